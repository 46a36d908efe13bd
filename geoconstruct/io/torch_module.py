"""Export to plain torch: a ``torch.nn.Module`` with TransformerLens names, for nnsight and friends.

:func:`to_torch` builds the module below from a construction's weights (copied, as parameters
with ``requires_grad=False``); its ``forward`` is the library's one forward pass
(:func:`~geoconstruct.model.transformer.forward`) on those parameters.

Every activation a researcher reads has a module whose output it is: ``blocks.0.attn.hook_pattern``
(the attention pattern), ``blocks.0.mlp.hook_pre`` and ``blocks.0.mlp.hook_post`` (the MLP's
hidden units before and after the ReLU: the selector's gated differences), each an identity, so
that nnsight (``model.blocks[0].mlp.hook_post.output``) and forward hooks reach them. Needs torch
(the ``tl`` extra).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from geoconstruct._validation import InputTypeError
from geoconstruct.constructions.construction import Construction
from geoconstruct.model.backends import require_torch
from geoconstruct.model.transformer import Weights, forward

__all__ = ["to_torch"]


def to_torch(construction: Construction) -> Any:
    """A plain ``torch.nn.Module`` that computes ``construction``'s logits.

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

    def holding(names: tuple[str, ...], weights: Weights, prefix: str) -> Any:
        """A module whose parameters are ``weights[prefix + name]``, frozen."""
        module = nn.Module()
        for name in names:
            array = torch.tensor(np.asarray(weights[f"{prefix}{name}"]))
            setattr(module, name, nn.Parameter(array, requires_grad=False))
        return module

    class ConstructedTransformer(nn.Module):  # type: ignore[misc,name-defined]
        """A geoconstruct construction as a plain torch module (see :func:`to_torch`)."""

        def __init__(self, construction: Construction) -> None:
            super().__init__()
            weights, self.config = construction.weights, construction.config
            self.embed = holding(("W_E",), weights, "embed.")  # [d_vocab, d_model]
            self.pos_embed = holding(("W_pos",), weights, "pos_embed.")  # [n_ctx, d_model]
            self.blocks = nn.ModuleList()
            for layer in range(self.config.n_layers):
                block = nn.Module()
                block.attn = holding(ATTENTION, weights, f"blocks.{layer}.attn.")
                block.attn.hook_pattern = nn.Identity()  # [batch, head, q_pos, k_pos]
                block.mlp = holding(MLP, weights, f"blocks.{layer}.mlp.")
                block.mlp.hook_pre = nn.Identity()  # [batch, pos, d_mlp]
                block.mlp.hook_post = nn.Identity()  # relu(hook_pre)
                self.blocks.append(block)
            self.unembed = holding(("W_U", "b_U"), weights, "unembed.")  # [d_model, d_vocab]

        def forward(self, tokens: Any) -> Any:
            """Logits [batch, pos, d_vocab] of int64 tokens [batch, pos]: the library's pass."""
            parameters = dict(self.named_parameters())
            return forward(parameters, self.config, tokens, hook=self._hook)

        def _hook(self, name: str, activation: Any) -> Any:
            return self.get_submodule(name)(activation)

    return ConstructedTransformer


ATTENTION = ("W_Q", "W_K", "W_V", "W_O", "b_Q", "b_K", "b_V", "b_O")
MLP = ("W_in", "b_in", "W_out", "b_out")
