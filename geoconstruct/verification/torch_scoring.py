"""The torch pass's scoring: the last position's logits reduced on the device, a block of
vocabulary columns at a time, to what :func:`~geoconstruct.verification.evaluation.
logit_summaries` yields (needs torch)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import numpy.typing as npt

from geoconstruct.model.torch_transformer import TorchModel, require_torch
from geoconstruct.model.transformer import TransformerConfig, Weights
from geoconstruct.verification.evaluation import LogitSummary, bytes_per_prompt

__all__ = ["TORCH_TILE", "torch_logit_summaries"]


TORCH_TILE = 32_768
"""Vocabulary columns the torch pass multiplies at once (a [rows, tile] block of logits)."""


def torch_logit_summaries(
    weights: Weights,
    config: TransformerConfig,
    tokens: npt.NDArray[Any],
    answers: npt.NDArray[Any] | None,
    chunk_bytes: int,
    device: str,
) -> Iterator[tuple[int, LogitSummary]]:
    """:func:`logit_summaries` by the torch pass: as many prompts at once as fit ``chunk_bytes``
    beside a [rows, :data:`TORCH_TILE`] block of logits, each block reduced on the device as the
    numpy pass reduces its tiles (the answer's logit read and left out, the best other logit
    and its first index kept; ties keep the earlier index).

    Parameters
    ----------
    weights : mapping of str to ndarray
        Weights in TransformerLens names and shapes.
    config : TransformerConfig
        The model's hyper-parameters.
    tokens : array_like of int, shape [batch, pos]
        Prompts as token ids.
    answers : ndarray of int or None
        The answer token of each prompt; None skips the margins.
    chunk_bytes : int
        Bytes one chunk of prompts may take.
    device : str
        The torch device (``"cpu"``, ``"cuda"``); ``"cpu"`` with numpy.
    """
    torch = require_torch()
    model = TorchModel(weights, config, device)
    itemsize = np.dtype(config.dtype).itemsize
    width = min(config.d_vocab, TORCH_TILE)
    rows = max(1, chunk_bytes // (bytes_per_prompt(config) + 2 * width * itemsize))
    W_U, b_U = model.weights["unembed.W_U"], model.weights["unembed.b_U"]
    with torch.inference_mode():
        for start in range(0, tokens.shape[0], rows):
            resid = model.last_position_residual(tokens[start : start + rows])  # [n, d_model]
            n = resid.shape[0]
            best = torch.full((n,), -torch.inf, dtype=resid.dtype, device=model.device)
            best_at = torch.zeros(n, dtype=torch.int64, device=model.device)
            answer_logit = torch.full((n,), torch.nan, dtype=torch.float64, device=model.device)
            target = None
            if answers is not None:
                target = torch.from_numpy(np.asarray(answers[start : start + rows], np.int64))
                target = target.to(model.device)
            for first in range(0, config.d_vocab, width):
                logits = resid @ W_U[:, first : first + width] + b_U[first : first + width]
                if target is not None:
                    inside = (target >= first) & (target < first + logits.shape[1])
                    rows_in = torch.nonzero(inside).flatten()
                    columns = target[rows_in] - first
                    answer_logit[rows_in] = logits[rows_in, columns].double()
                    logits[rows_in, columns] = -torch.inf
                tile_best, tile_at = torch.max(logits, dim=1)  # the first of equal maxima
                improved = tile_best > best  # strictly: an earlier index keeps a tie
                best = torch.where(improved, tile_best, best)
                best_at = torch.where(improved, tile_at + first, best_at)
            best64 = best.double()
            if target is None:
                predicted = best_at
            else:
                earlier = torch.minimum(target, best_at)
                predicted = torch.where(
                    answer_logit > best64,
                    target,
                    torch.where(answer_logit < best64, best_at, earlier),
                )
            yield (
                start,
                LogitSummary(
                    predicted.cpu().numpy().astype(np.int64),
                    answer_logit.cpu().numpy(),
                    best64.cpu().numpy(),
                ),
            )
