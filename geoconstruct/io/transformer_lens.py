"""The TransformerLens export: a construction as a TransformerLens model or state dict.

Needs the optional extra ``tl`` (``pip install 'geoconstruct[tl]'``). The weights already carry
TransformerLens names and shapes, so the export renames nothing.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from geoconstruct.constructions.construction import Construction

__all__ = ["to_transformer_lens", "transformer_lens_config", "transformer_lens_state_dict"]


def transformer_lens_config(construction: Construction) -> Any:
    """A ``transformer_lens.TransformerBridgeConfig`` for the construction's model.

    Needs the optional extra ``tl`` (``pip install 'geoconstruct[tl]'``).

    """
    transformer_lens, _ = _import_transformer_lens()
    config = construction.config
    return transformer_lens.TransformerBridgeConfig(
        d_model=config.d_model,
        n_layers=config.n_layers,
        n_heads=config.n_heads,
        d_head=config.d_head,
        d_mlp=config.d_mlp,
        d_vocab=config.d_vocab,
        n_ctx=config.n_ctx,
        act_fn=config.act_fn,
        normalization_type=config.normalization_type,
        positional_embedding_type=config.positional_embedding_type,
        architecture="TransformerLensNative",
    )


def transformer_lens_state_dict(construction: Construction) -> dict[str, Any]:
    """The weights as a plain TransformerLens state dict: the same names, as torch tensors.

    Needs the optional extra ``tl``.

    """
    _, torch = _import_transformer_lens()
    return {
        name: torch.from_numpy(np.array(array, copy=True))
        for name, array in construction.weights.items()
    }


def to_transformer_lens(construction: Construction) -> Any:
    """A TransformerLens model that runs the construction.

    TransformerLens 4's native bridge (``TransformerBridge.boot_native`` with
    ``normalization_type=None``, ``act_fn="relu"``, standard positional embeddings), in the
    construction's dtype, with the weights loaded through TransformerLens's own checkpoint
    conversion; every parameter must match (``strict=True``). ``model(tokens)`` returns logits
    ``[batch, pos, d_vocab]`` for a ``torch`` tensor of token ids.

    Raises
    ------
    ImportError
        Without the optional extra ``tl`` (``pip install 'geoconstruct[tl]'``).

    Examples
    --------
    >>> import numpy as np, torch
    >>> from geoconstruct import construct_single_hop, proven_dimension
    >>> c = construct_single_hop(200, 2, proven_dimension(200, 2), seed=0)
    >>> model = to_transformer_lens(c)
    >>> tokens, answers = c.prompts()
    >>> with torch.no_grad():
    ...     predicted = model(torch.from_numpy(tokens))[:, -1].argmax(-1).numpy()
    >>> bool(np.array_equal(predicted, answers))
    True
    """
    transformer_lens, torch = _import_transformer_lens()
    from transformer_lens.utilities.tl_checkpoint_conversion import convert_tl_checkpoint

    config = transformer_lens_config(construction)
    dtype = {"float64": torch.float64, "float32": torch.float32}[construction.config.dtype]
    model = transformer_lens.TransformerBridge.boot_native(config, dtype=dtype)
    state = convert_tl_checkpoint(transformer_lens_state_dict(construction), config)
    model.load_state_dict(state, strict=True)
    model.eval()
    return model


def _import_transformer_lens() -> tuple[Any, Any]:
    try:
        import torch
        import transformer_lens
    except ImportError as error:  # pragma: no cover - exercised without the extra
        raise ImportError(
            "the TransformerLens export needs the optional extra: pip install 'geoconstruct[tl]'"
        ) from error
    return transformer_lens, torch
