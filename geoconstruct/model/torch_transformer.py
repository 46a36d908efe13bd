"""The same forward pass in torch, for inference on a CPU or a GPU (needs torch: the ``tl`` or
``train`` extra).

:func:`last_position_logits` computes what :func:`~geoconstruct.model.transformer.forward` with
``last_position_only=True`` computes, step for step and in the weights' dtype, with dense torch
products on ``device``::

    resid  = W_E[tokens] + W_pos[positions]                              [batch, pos, d_model]
    for each layer:
        resid_last += attention(resid)[:, -1] (final layer: the last query position only)
        resid      += relu(resid @ W_in + b_in) @ W_out + b_out          hidden [batch, pos, d_mlp]
    logits = resid[:, -1] @ W_U + b_U                                    [batch, d_vocab]

(recall reduces the logits a block of vocabulary columns at a time, as the numpy pass does). Dense
products sum their terms in another order than the numpy pass's nonzero blocks, so the
logits agree to rounding, not bit for bit (``tests/test_torch_backend.py``); the argmax is taken
the same way, the first index of equal maxima.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from geoconstruct.model.transformer import TransformerConfig, Weights

Tensor = Any  # Tensor: torch is an optional extra, imported where it is used

__all__ = ["DEVICES", "TorchModel", "require_torch"]

DEVICES = ("cpu", "cuda")


def require_torch() -> Any:
    """Import torch, or raise ``ImportError`` saying which extra installs it."""
    try:
        import torch
    except ImportError as error:  # pragma: no cover - the test extra installs torch
        raise ImportError(
            "backend='torch' needs torch: pip install 'geoconstruct[tl]' (or '[train]')"
        ) from error
    return torch


class TorchModel:
    """A model's weights on a torch device, and its last-position logits.

    Parameters
    ----------
    weights : mapping of str to ndarray
        TransformerLens names and shapes.
    config : TransformerConfig
    device : {"cpu", "cuda"}
        ``"cuda"`` needs a CUDA build of torch and a GPU.

    Raises
    ------
    ValueError
        On an unknown device, or ``"cuda"`` where torch sees no GPU.
    """

    def __init__(self, weights: Weights, config: TransformerConfig, device: str = "cpu") -> None:
        torch = require_torch()
        if device not in DEVICES:
            raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
        if device == "cuda" and not torch.cuda.is_available():
            raise ValueError("device='cuda' but torch sees no GPU; use device='cpu'")
        self.config = config
        self.device = torch.device(device)
        self.weights = {
            name: torch.tensor(np.asarray(array), device=self.device)
            for name, array in weights.items()
        }

    def last_position_logits(self, tokens: npt.NDArray[np.int64]) -> Tensor:
        """Logits at the last position of every prompt: [batch, d_vocab], on the device.

        Parameters
        ----------
        tokens : array_like of int, shape [batch, pos]
            Prompts as token ids.
        """
        resid = self.last_position_residual(tokens)  # [batch, d_model]
        logits: Tensor = resid @ self.weights["unembed.W_U"] + self.weights["unembed.b_U"]
        return logits

    def last_position_residual(self, tokens: npt.NDArray[np.int64]) -> Tensor:
        """The residual stream at the last position, before the unembedding: [batch, d_model].

        Parameters
        ----------
        tokens : array_like of int, shape [batch, pos]
            Prompts as token ids.
        """
        torch = require_torch()
        W, config = self.weights, self.config
        token_ids = torch.from_numpy(np.ascontiguousarray(tokens, dtype=np.int64)).to(self.device)
        n_positions = token_ids.shape[1]
        resid = W["embed.W_E"][token_ids] + W["pos_embed.W_pos"][:n_positions]  # [b, pos, d]
        for layer in range(config.n_layers):
            block = f"blocks.{layer}"
            final_layer = layer == config.n_layers - 1
            keep = slice(n_positions - 1, None) if final_layer else slice(None)
            resid = resid[:, keep] + self._attention(block, resid, keep)
            hidden = torch.relu(resid @ W[f"{block}.mlp.W_in"] + W[f"{block}.mlp.b_in"])
            resid = resid + hidden @ W[f"{block}.mlp.W_out"] + W[f"{block}.mlp.b_out"]
        last: Tensor = resid[:, -1]
        return last

    def _attention(self, block: str, resid: Tensor, queries: slice) -> Tensor:
        """Causal multi-head attention for the query positions ``queries``: [b, q_pos, d_model]."""
        torch = require_torch()
        W = self.weights
        n_positions = resid.shape[1]

        def project(x: Tensor, name: str) -> Tensor:
            # x [b, p, d_model], W [head, d_model, d_head] -> [b, head, p, d_head]
            out = torch.einsum("bpm,hmd->bhpd", x, W[f"{block}.attn.W_{name}"])
            return out + W[f"{block}.attn.b_{name}"][None, :, None, :]

        q = project(resid[:, queries], "Q")
        k = project(resid, "K")
        v = project(resid, "V")
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.config.d_head)  # [b, head, q, k]
        query_positions = torch.arange(n_positions, device=self.device)[queries]
        key_positions = torch.arange(n_positions, device=self.device)
        future = key_positions[None, :] > query_positions[:, None]  # [q_pos, k_pos]
        pattern = torch.softmax(scores.masked_fill(future, -torch.inf), dim=-1)
        z = pattern @ v  # [b, head, q_pos, d_head]
        out = torch.einsum("bhqd,hdm->bqm", z, W[f"{block}.attn.W_O"])
        return out + W[f"{block}.attn.b_O"]  # [b, q_pos, d_model]
