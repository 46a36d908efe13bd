"""The model: a TransformerLens-native transformer, written once over the array API, read top to
bottom.

Weights are a mapping from TransformerLens parameter names to arrays, so a construction exports as
a TransformerLens state dict without renaming (``docs/design.md`` §3). The model is the one
TransformerLens runs with ``normalization_type=None``, ``act_fn="relu"``, standard positional
embeddings and attention scaled by ``1/sqrt(d_head)``::

    resid  = W_E[tokens] + W_pos[positions]                              [batch, pos, d_model]
    for each layer:
        q, k, v = resid @ W_Q[h] + b_Q[h], ...                           [batch, pos, head, d_head]
        pattern = softmax(causal_mask(q·kᵀ / sqrt(d_head)))              [batch, head, pos, pos]
        resid  += Σ_h (pattern_h @ v_h) @ W_O[h] + b_O
        resid  += relu(resid @ W_in + b_in) @ W_out + b_out              hidden [batch, pos, d_mlp]
    logits = resid @ W_U + b_U                                           [batch, pos, d_vocab]

The computation runs in the dtype of the weights (float64 or float32), on whatever array library
holds them: numpy (the reference), or torch on a CPU or a GPU (``array-api-compat`` supplies the
namespace). Nothing else in the library computes a transformer's logits; the test oracle in
``tests/`` is independent on purpose.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import numpy.typing as npt
from array_api_compat import array_namespace, device, is_array_api_obj

from geoconstruct._validation import InputTypeError, require_choice, require_int
from geoconstruct.facts import generator
from geoconstruct.model.linear_maps import LinearMap

__all__ = [
    "DTYPES",
    "Hook",
    "ParameterSplit",
    "TransformerConfig",
    "Weights",
    "forward",
    "linear_maps",
    "random_weights",
    "residual_stream",
    "validate_weights",
    "zero_weights",
]

Weights = Mapping[str, npt.NDArray[Any]]
FloatArray = npt.NDArray[np.floating[Any]]
Hook = Callable[[str, Any], Any]
"""``hook(name, activation) -> activation`` at a TransformerLens hook point."""

_HEADS = (0, 2, 1, 3)  # [batch, pos, head, d_head] <-> [batch, head, pos, d_head]


def _no_hook(name: str, activation: Any) -> Any:
    return activation


DTYPES = ("float64", "float32")


@dataclass(frozen=True)
class TransformerConfig:
    """Hyper-parameters, named as in TransformerLens's ``HookedTransformerConfig``.

    Examples
    --------
    >>> config = TransformerConfig(d_model=8, n_layers=1, n_heads=2, d_head=4, d_mlp=16,
    ...                            d_vocab=10, n_ctx=3)
    >>> config.weight_shapes()["blocks.0.attn.W_Q"]
    (2, 8, 4)
    """

    d_model: int
    n_layers: int
    n_heads: int
    d_head: int
    d_mlp: int
    d_vocab: int
    n_ctx: int
    act_fn: str = "relu"
    normalization_type: None = None
    positional_embedding_type: str = "standard"
    dtype: str = "float64"

    def __post_init__(self) -> None:
        for name in ("d_model", "n_layers", "n_heads", "d_head", "d_mlp", "d_vocab", "n_ctx"):
            require_int(name, getattr(self, name), minimum=1)
        require_choice("act_fn", self.act_fn, ("relu",))
        if self.normalization_type is not None:
            raise ValueError(f"normalization_type must be None, got {self.normalization_type!r}")
        require_choice("positional_embedding_type", self.positional_embedding_type, ("standard",))
        require_choice("dtype", self.dtype, DTYPES)

    def weight_shapes(self) -> dict[str, tuple[int, ...]]:
        """Every parameter's TransformerLens name and shape, in state-dict order."""
        shapes: dict[str, tuple[int, ...]] = {
            "embed.W_E": (self.d_vocab, self.d_model),
            "pos_embed.W_pos": (self.n_ctx, self.d_model),
        }
        heads, d_model, d_head, d_mlp = self.n_heads, self.d_model, self.d_head, self.d_mlp
        for layer in range(self.n_layers):
            block = f"blocks.{layer}"
            for name in ("Q", "K", "V"):
                shapes[f"{block}.attn.W_{name}"] = (heads, d_model, d_head)
                shapes[f"{block}.attn.b_{name}"] = (heads, d_head)
            shapes[f"{block}.attn.W_O"] = (heads, d_head, d_model)
            shapes[f"{block}.attn.b_O"] = (d_model,)
            shapes[f"{block}.mlp.W_in"] = (d_model, d_mlp)
            shapes[f"{block}.mlp.b_in"] = (d_mlp,)
            shapes[f"{block}.mlp.W_out"] = (d_mlp, d_model)
            shapes[f"{block}.mlp.b_out"] = (d_model,)
        shapes["unembed.W_U"] = (d_model, self.d_vocab)
        shapes["unembed.b_U"] = (self.d_vocab,)
        return shapes

    def n_params(self) -> int:
        """Total number of parameters (every entry of every weight array)."""
        return sum(math.prod(shape) for shape in self.weight_shapes().values())

    def as_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (for JSON and for TransformerLens configs)."""
        return {field.name: getattr(self, field.name) for field in fields(self)}


@dataclass(frozen=True)
class ParameterSplit:
    """A model's parameters by where they sit: MLP, token embedding, and all of them."""

    mlp: int
    embedding: int
    total: int

    @classmethod
    def of(cls, config: TransformerConfig) -> ParameterSplit:
        """Count from the config's shapes (nothing is built).

        Examples
        --------
        >>> config = TransformerConfig(d_model=4, n_layers=1, n_heads=1, d_head=2, d_mlp=8,
        ...                            d_vocab=10, n_ctx=2)
        >>> ParameterSplit.of(config)
        ParameterSplit(mlp=76, embedding=40, total=216)
        """
        sizes = {name: math.prod(shape) for name, shape in config.weight_shapes().items()}
        return cls(
            mlp=sum(size for name, size in sizes.items() if ".mlp." in name),
            embedding=sizes["embed.W_E"],
            total=sum(sizes.values()),
        )


def validate_weights(weights: Weights, config: TransformerConfig) -> None:
    """Raise ``ValueError`` unless ``weights`` has exactly the names, shapes and dtype of config."""
    expected = config.weight_shapes()
    missing = sorted(set(expected) - set(weights))
    extra = sorted(set(weights) - set(expected))
    if missing or extra:
        raise ValueError(f"weights do not match the config: missing {missing}, unexpected {extra}")
    for name, shape in expected.items():
        array = weights[name]
        if array.shape != shape:
            raise ValueError(f"{name} has shape {array.shape}, expected {shape}")
        if array.dtype != np.dtype(config.dtype):
            raise ValueError(f"{name} has dtype {array.dtype}, expected {config.dtype}")


def zero_weights(config: TransformerConfig) -> dict[str, FloatArray]:
    """Fresh writeable zero arrays for every parameter of ``config``."""
    return {name: np.zeros(shape, config.dtype) for name, shape in config.weight_shapes().items()}


def random_weights(
    config: TransformerConfig, seed: int | np.random.Generator = 0, scale: float = 1.0
) -> dict[str, FloatArray]:
    """Gaussian weights with standard deviation ``scale / sqrt(fan_in)`` (for tests and probes).

    Parameters
    ----------
    seed : int or numpy.random.Generator
        Seeds the draw, or the generator to draw from.
    scale : float
        Multiplies every standard deviation.
    """
    rng = generator(seed)
    weights = {}
    for name, shape in config.weight_shapes().items():
        fan_in = shape[-2] if len(shape) >= 2 else 1
        draw = rng.standard_normal(shape) * (scale / math.sqrt(fan_in))
        weights[name] = draw.astype(config.dtype)
    return weights


def forward(
    weights: Weights,
    config: TransformerConfig,
    tokens: npt.ArrayLike,
    *,
    last_position_only: bool = False,
    maps: Mapping[str, LinearMap] | None = None,
    hook: Hook | None = None,
) -> Any:
    """Run the model on a batch of prompts: the one forward pass of the library.

    The same code runs on numpy arrays and on torch tensors (CPU or CUDA; any array-API
    library): recall scoring, the torch module export and the trainer all call it.

    Parameters
    ----------
    last_position_only : bool
        Return only the last position's logits, skipping the final layer's work at earlier
        positions (causal attention makes the result identical).
    maps : mapping, optional
        The model's :func:`linear_maps`, built here when None; a caller running many batches
        builds them once (on a torch device: :meth:`LinearMap.on`).
    hook : callable, optional
        ``hook(name, activation)`` returns the activation to go on with, at the TransformerLens
        hook points ``blocks.{l}.attn.hook_pattern``, ``blocks.{l}.mlp.hook_pre`` and
        ``blocks.{l}.mlp.hook_post``.

    Returns
    -------
    array
        Logits [batch, pos, d_vocab], or [batch, d_vocab] with ``last_position_only``.

    Raises
    ------
    ValueError
        On a token id out of range or a prompt longer than ``n_ctx``.

    Examples
    --------
    >>> config = TransformerConfig(d_model=4, n_layers=2, n_heads=2, d_head=3, d_mlp=5,
    ...                            d_vocab=7, n_ctx=4)
    >>> weights = random_weights(config, seed=0)
    >>> forward(weights, config, [[1, 2, 3], [4, 5, 6]]).shape
    (2, 3, 7)
    >>> full = forward(weights, config, [[1, 2, 3]])
    >>> last = forward(weights, config, [[1, 2, 3]], last_position_only=True)
    >>> bool(np.allclose(last, full[:, -1]))
    True
    """
    maps = linear_maps(weights, config) if maps is None else maps
    resid = residual_stream(
        weights, config, tokens, last_position_only=last_position_only, maps=maps, hook=hook
    )
    logits = maps["unembed.W_U"](resid)  # [batch, pos, d_vocab]
    return logits[:, -1] if last_position_only else logits


def residual_stream(
    weights: Weights,
    config: TransformerConfig,
    tokens: npt.ArrayLike,
    *,
    last_position_only: bool = False,
    maps: Mapping[str, LinearMap] | None = None,
    hook: Hook | None = None,
) -> Any:
    """The residual stream after the last layer, before the unembedding: [batch, pos, d_model].

    With ``last_position_only`` the final layer runs at the last position only and the result
    is [batch, 1, d_model]. :func:`forward` is this followed by ``@ W_U + b_U``.

    Parameters
    ----------
    weights, config, tokens, last_position_only, maps, hook
        As for :func:`forward`.
    """
    maps = linear_maps(weights, config) if maps is None else maps
    hook = _no_hook if hook is None else hook
    W_E, W_pos = maps["embed.W_E"].block, maps["pos_embed.W_pos"].block
    xp = array_namespace(W_E)
    token_ids = _check_tokens(tokens, config)
    if isinstance(token_ids, np.ndarray) and not isinstance(W_E, np.ndarray):
        token_ids = xp.asarray(token_ids, device=device(W_E))  # the ids go where the weights are
    n_positions = token_ids.shape[1]

    resid = W_E[token_ids] + W_pos[:n_positions]  # [batch, pos, d_model]
    for layer in range(config.n_layers):
        block = f"blocks.{layer}"
        # Causal attention: in the final layer, later positions never feed earlier ones, so
        # only the kept query positions need attention, MLP and unembedding.
        final_layer = layer == config.n_layers - 1
        keep = slice(n_positions - 1, None) if last_position_only and final_layer else slice(None)
        resid = resid[:, keep] + attention(maps, block, config, resid, keep, hook)
        resid = resid + mlp(maps, block, resid, hook)
    return resid


def attention(
    maps: Mapping[str, LinearMap],
    block: str,
    config: TransformerConfig,
    resid: Any,
    queries: slice,
    hook: Hook = _no_hook,
) -> Any:
    """Causal multi-head attention of ``block``, for the query positions ``queries``.

    ``resid`` is [batch, pos, d_model]; the result is [batch, len(queries), d_model].
    """
    xp = array_namespace(resid)
    n_prompts, n_positions, _ = resid.shape
    n_heads, d_head = config.n_heads, config.d_head

    def project(x: Any, name: str) -> Any:
        # x [batch, p, d_model] @ W [d_model, head·d_head] -> [batch, head, p, d_head]
        out = maps[f"{block}.attn.W_{name}"](x)
        return xp.permute_dims(xp.reshape(out, (x.shape[0], x.shape[1], n_heads, d_head)), _HEADS)

    q = project(resid[:, queries], "Q")  # [batch, head, q_pos, d_head]
    k = project(resid, "K")  # [batch, head, k_pos, d_head]
    v = project(resid, "V")  # [batch, head, k_pos, d_head]
    scores = (q @ xp.matrix_transpose(k)) / math.sqrt(d_head)  # [batch, head, q_pos, k_pos]
    positions = xp.arange(n_positions, device=device(resid))
    future = positions[None, :] > positions[queries][:, None]  # [q_pos, k_pos]
    scores = xp.where(future, -math.inf, scores)
    scores = scores - xp.max(scores, axis=-1, keepdims=True)
    pattern = xp.exp(scores)
    pattern = hook(f"{block}.attn.hook_pattern", pattern / xp.sum(pattern, axis=-1, keepdims=True))
    z = xp.permute_dims(pattern @ v, _HEADS)  # [batch, q_pos, head, d_head]
    return maps[f"{block}.attn.W_O"](xp.reshape(z, (n_prompts, -1, n_heads * d_head)))


def mlp(maps: Mapping[str, LinearMap], block: str, resid: Any, hook: Hook = _no_hook) -> Any:
    """The ReLU MLP of ``block``: [batch, pos, d_model] -> [batch, pos, d_model]."""
    xp = array_namespace(resid)
    pre = hook(f"{block}.mlp.hook_pre", maps[f"{block}.mlp.W_in"](resid))  # [batch, pos, d_mlp]
    post = hook(f"{block}.mlp.hook_post", xp.clip(pre, min=0))  # ReLU
    return maps[f"{block}.mlp.W_out"](post)


def linear_maps(weights: Mapping[str, Any], config: TransformerConfig) -> dict[str, LinearMap]:
    """Every linear map of the model, keyed by its weight's TransformerLens name, and the two
    embeddings (``embed.W_E``, ``pos_embed.W_pos``: their ``block`` is the table).

    The attention weights [head, d_model, d_head] become one map over all heads:
    ``W_Q``, ``W_K``, ``W_V`` [d_model, head·d_head] and ``W_O`` [head·d_head, d_model].
    numpy weights give their nonzero blocks (:class:`LinearMap`); others (torch parameters)
    stay whole, gradients and all.

    """
    xp = array_namespace(weights["unembed.W_U"])
    d_model, heads = config.d_model, config.n_heads * config.d_head
    maps = {
        name: LinearMap(slice(None), slice(None), weights[name], None)
        for name in ("embed.W_E", "pos_embed.W_pos")
    }
    for layer in range(config.n_layers):
        block = f"blocks.{layer}"
        for name in "QKV":
            W_x = xp.permute_dims(weights[f"{block}.attn.W_{name}"], (1, 0, 2))
            b_x = xp.reshape(weights[f"{block}.attn.b_{name}"], (heads,))
            maps[f"{block}.attn.W_{name}"] = LinearMap.of(xp.reshape(W_x, (d_model, heads)), b_x)
        W_O = xp.reshape(weights[f"{block}.attn.W_O"], (heads, d_model))
        maps[f"{block}.attn.W_O"] = LinearMap.of(W_O, weights[f"{block}.attn.b_O"])
        for name, bias in (("W_in", "b_in"), ("W_out", "b_out")):
            maps[f"{block}.mlp.{name}"] = LinearMap.of(
                weights[f"{block}.mlp.{name}"], weights[f"{block}.mlp.{bias}"]
            )
    maps["unembed.W_U"] = LinearMap.of(weights["unembed.W_U"], weights["unembed.b_U"])
    return maps


def _check_tokens(tokens: Any, config: TransformerConfig) -> Any:
    """The prompts as an integer array of their own library (numpy for lists), checked."""
    token_ids = tokens if is_array_api_obj(tokens) else np.asarray(tokens)
    xp = array_namespace(token_ids)
    if token_ids.ndim != 2 or token_ids.shape[1] == 0:
        raise ValueError(
            f"tokens must have shape [batch, pos] with pos >= 1, got {tuple(token_ids.shape)}"
        )
    if token_ids.shape[0] and not xp.isdtype(token_ids.dtype, "integral"):
        raise InputTypeError(f"tokens must be integer ids, got dtype {token_ids.dtype}")
    if token_ids.shape[1] > config.n_ctx:
        raise ValueError(f"prompts of length {token_ids.shape[1]} exceed n_ctx={config.n_ctx}")
    if token_ids.shape[0]:
        low, high = int(xp.min(token_ids)), int(xp.max(token_ids))
        if low < 0 or high >= config.d_vocab:
            raise ValueError(
                f"token ids must lie in [0, {config.d_vocab}), got values from {low} to {high}"
            )
    return xp.astype(token_ids, xp.int64) if isinstance(token_ids, np.ndarray) else token_ids
