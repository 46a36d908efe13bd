"""Export to plain torch: a ``torch.nn.Module`` with TransformerLens names, for nnsight and friends.

:func:`to_torch` builds the module below from a construction's weights (copied, as parameters
with ``requires_grad=False``); its forward pass is the library's (numpy) forward pass, written in
torch, top to bottom::

    resid = embed(tokens) + pos_embed(positions)                         [batch, pos, d_model]
    for block in blocks:
        resid = resid + block.attn(resid)         causal softmax attention, no normalisation
        resid = resid + block.mlp(resid)          W_out·relu(W_in·x + b_in) + b_out
    logits = unembed(resid)                                              [batch, pos, d_vocab]

Every activation a researcher reads has a module whose output it is: ``blocks.0.attn.hook_pattern``
(the attention pattern), ``blocks.0.mlp.hook_pre`` and ``blocks.0.mlp.hook_post`` (the MLP's
hidden units before and after the ReLU: the selector's gated differences), each an identity, so
that nnsight (``model.blocks[0].mlp.hook_post.output``) and forward hooks reach them. Needs torch
(the ``tl`` extra).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from geoconstruct._validation import InputTypeError
from geoconstruct.constructions.construction import Construction
from geoconstruct.model.torch_transformer import require_torch

__all__ = ["to_torch"]


def to_torch(construction: Construction) -> Any:
    """A plain ``torch.nn.Module`` that computes ``construction``'s logits.

    Parameters
    ----------
    construction : Construction
        Of any kind.

    Returns
    -------
    torch.nn.Module
        Submodules ``embed``, ``pos_embed``, ``blocks[i].attn``, ``blocks[i].mlp`` and
        ``unembed``, with parameters in TransformerLens names and shapes and the construction's
        dtype; ``module(tokens)`` maps int64 tokens [batch, pos] to logits [batch, pos, d_vocab].

    Raises
    ------
    InputTypeError
        If ``construction`` is not a :class:`Construction`.
    ImportError
        Without torch.

    Examples
    --------
    >>> import torch
    >>> from geoconstruct import construct_single_hop
    >>> c = construct_single_hop(100, 2, seed=1)
    >>> module = to_torch(c)
    >>> tokens, answers = c.prompts()  # [N·R, 2] prompts [s, r] and their answer tokens
    >>> logits = module(torch.from_numpy(tokens))
    >>> logits.shape, bool((logits[:, -1].argmax(-1).numpy() == answers).all())
    (torch.Size([200, 2, 202]), True)
    """
    if not isinstance(construction, Construction):
        raise InputTypeError(
            f"construction must be a Construction, got {type(construction).__name__}"
        )
    return _module_class()(construction)


def _module_class() -> Any:
    """The module classes, defined once torch is imported (torch is an optional extra)."""
    torch = require_torch()
    nn = torch.nn

    def parameter(array: Any) -> Any:
        return nn.Parameter(torch.tensor(np.asarray(array)), requires_grad=False)

    class Embed(nn.Module):  # type: ignore[misc,name-defined]
        def __init__(self, W_E: Any) -> None:
            super().__init__()
            self.W_E = parameter(W_E)  # [d_vocab, d_model]

        def forward(self, tokens: Any) -> Any:
            return self.W_E[tokens]

    class PosEmbed(nn.Module):  # type: ignore[misc,name-defined]
        def __init__(self, W_pos: Any) -> None:
            super().__init__()
            self.W_pos = parameter(W_pos)  # [n_ctx, d_model]

        def forward(self, tokens: Any) -> Any:
            return self.W_pos[: tokens.shape[1]][None]

    class Attention(nn.Module):  # type: ignore[misc,name-defined]
        def __init__(self, weights: Any, prefix: str, d_head: int) -> None:
            super().__init__()
            for name in ("W_Q", "W_K", "W_V", "W_O", "b_Q", "b_K", "b_V", "b_O"):
                setattr(self, name, parameter(weights[f"{prefix}.{name}"]))
            self.scale = math.sqrt(d_head)
            self.hook_pattern = nn.Identity()

        def forward(self, resid: Any) -> Any:  # resid [b, p, d_model]
            q = torch.einsum("bpm,hmd->bhpd", resid, self.W_Q) + self.b_Q[None, :, None, :]
            k = torch.einsum("bpm,hmd->bhpd", resid, self.W_K) + self.b_K[None, :, None, :]
            v = torch.einsum("bpm,hmd->bhpd", resid, self.W_V) + self.b_V[None, :, None, :]
            scores = q @ k.transpose(-1, -2) / self.scale  # [b, head, q_pos, k_pos]
            n = resid.shape[1]
            future = torch.triu(torch.ones(n, n, dtype=torch.bool, device=resid.device), 1)
            pattern = self.hook_pattern(torch.softmax(scores.masked_fill(future, -torch.inf), -1))
            z = pattern @ v  # [b, head, q_pos, d_head]
            return torch.einsum("bhqd,hdm->bqm", z, self.W_O) + self.b_O

    class MLP(nn.Module):  # type: ignore[misc,name-defined]
        def __init__(self, weights: Any, prefix: str) -> None:
            super().__init__()
            for name in ("W_in", "b_in", "W_out", "b_out"):
                setattr(self, name, parameter(weights[f"{prefix}.{name}"]))
            self.hook_pre = nn.Identity()
            self.hook_post = nn.Identity()

        def forward(self, resid: Any) -> Any:
            pre = self.hook_pre(resid @ self.W_in + self.b_in)  # [b, p, d_mlp]
            post = self.hook_post(torch.relu(pre))
            return post @ self.W_out + self.b_out

    class Block(nn.Module):  # type: ignore[misc,name-defined]
        def __init__(self, weights: Any, layer: int, d_head: int) -> None:
            super().__init__()
            self.attn = Attention(weights, f"blocks.{layer}.attn", d_head)
            self.mlp = MLP(weights, f"blocks.{layer}.mlp")

        def forward(self, resid: Any) -> Any:
            resid = resid + self.attn(resid)
            return resid + self.mlp(resid)

    class Unembed(nn.Module):  # type: ignore[misc,name-defined]
        def __init__(self, W_U: Any, b_U: Any) -> None:
            super().__init__()
            self.W_U = parameter(W_U)  # [d_model, d_vocab]
            self.b_U = parameter(b_U)

        def forward(self, resid: Any) -> Any:
            return resid @ self.W_U + self.b_U

    class ConstructedTransformer(nn.Module):  # type: ignore[misc,name-defined]
        """A geoconstruct construction as a plain torch module (see :func:`to_torch`)."""

        def __init__(self, construction: Construction) -> None:
            super().__init__()
            weights, config = construction.weights, construction.config
            self.embed = Embed(weights["embed.W_E"])
            self.pos_embed = PosEmbed(weights["pos_embed.W_pos"])
            self.blocks = nn.ModuleList(
                Block(weights, layer, config.d_head) for layer in range(config.n_layers)
            )
            self.unembed = Unembed(weights["unembed.W_U"], weights["unembed.b_U"])

        def forward(self, tokens: Any) -> Any:
            resid = self.embed(tokens) + self.pos_embed(tokens)
            for block in self.blocks:
                resid = block(resid)
            return self.unembed(resid)

    return ConstructedTransformer
