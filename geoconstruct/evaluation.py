"""The forward pass as the judge: run many prompts in bounded memory and score the answers.

:func:`score_prompts` runs :func:`geoconstruct.transformer.forward` on chunks of prompts and keeps,
for each, whether the argmax over the **whole vocabulary** is the expected token and the logit
margin (expected logit minus the best other logit). Chunks are sized so that the arrays of one
chunk fit in ``chunk_bytes`` (:func:`bytes_per_prompt` is the per-prompt bound; 256 MiB by
default, past which larger chunks run no faster). :func:`plan_chunk_bytes` fits the prompt table
and one chunk into a caller's memory budget, or refuses before anything is allocated.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from geoconstruct._validation import require_int, require_within_budget
from geoconstruct.transformer import TransformerConfig, Weights, forward

__all__ = [
    "CHUNK_BYTES",
    "Failure",
    "PromptScores",
    "RecallReport",
    "bytes_per_prompt",
    "chunk_size",
    "plan_chunk_bytes",
    "predict_tokens",
    "score_prompts",
]

CHUNK_BYTES = 256 * 2**20
"""Working memory of one chunk of the forward pass (256 MiB) when the budget allows it."""

ProgressCallback = Callable[[int], None]
FloatArray = npt.NDArray[np.floating[Any]]


def bytes_per_prompt(config: TransformerConfig) -> int:
    """An upper bound on the bytes one prompt occupies in a chunk of the forward pass.

    Counts every array the forward pass and the scoring hold at once for one prompt: the residual
    stream and its updates, queries/keys/values and their reshaped copies, attention scores and
    pattern, the MLP pre-activations and hidden units of every layer, and three vocabulary-sized
    rows (logits and the scoring's temporaries).
    """
    itemsize = np.dtype(config.dtype).itemsize
    heads = config.n_heads * config.d_head
    per_layer = config.n_ctx * (
        6 * config.d_model + 8 * heads + 4 * config.n_heads * config.n_ctx + 3 * config.d_mlp
    )
    return itemsize * (config.n_layers * per_layer + 4 * config.d_vocab + 2 * config.n_ctx)


class Failure(NamedTuple):
    """One query the forward pass got wrong: attribute ids, not token ids.

    ``predicted`` is -1 when the model's argmax is not an attribute token at all.
    """

    subject: int
    relation: int
    expected: int
    predicted: int


@dataclass(frozen=True)
class RecallReport:
    """What the forward pass recalled.

    Attributes
    ----------
    n_facts : int
        Queries checked.
    n_correct : int
        Queries whose argmax over the whole vocabulary is the expected token.
    min_margin : float
        Smallest (expected logit - best other logit) over all queries; positive iff every query
        is answered with a strict margin.
    failures : tuple of Failure
        The first failures, in query order (at most the ``max_failures`` asked for).
    method : {"exact", "certified"}
        ``"exact"``: every query ran through the forward pass. ``"certified"``: queries were
        proved correct by the certificate, and the rest (``n_fallback``) ran through the forward
        pass; ``min_margin`` is then a lower bound.
    n_fallback : int
        Queries the certificate left to the forward pass (0 for ``"exact"``).
    """

    n_facts: int
    n_correct: int
    min_margin: float
    failures: tuple[Failure, ...]
    method: str = "exact"
    n_fallback: int = 0

    @property
    def accuracy(self) -> float:
        """``n_correct / n_facts``."""
        return self.n_correct / self.n_facts

    @property
    def all_correct(self) -> bool:
        return self.n_correct == self.n_facts


def chunk_size(config: TransformerConfig, chunk_bytes: int) -> int:
    """Prompts per chunk: ``max(1, chunk_bytes // bytes_per_prompt(config))``."""
    chunk_bytes = require_int("chunk_bytes", chunk_bytes, minimum=1)
    return max(1, chunk_bytes // bytes_per_prompt(config))


def plan_chunk_bytes(
    config: TransformerConfig, n_prompts: int, memory_budget: int, task: str = "recall"
) -> int:
    """Bytes for one chunk once the ``[n, n_ctx]`` prompt table and answers fit in the budget.

    Raises :class:`~geoconstruct._validation.MemoryBudgetError` (a ``MemoryError``), before
    anything is allocated, when the table and a one-prompt chunk together exceed
    ``memory_budget``.
    """
    table = n_prompts * (config.n_ctx + 1) * np.dtype(np.int64).itemsize
    require_within_budget(task, table + bytes_per_prompt(config), memory_budget)
    return min(CHUNK_BYTES, memory_budget - table)


def predict_tokens(
    weights: Weights,
    config: TransformerConfig,
    tokens: npt.ArrayLike,
    *,
    chunk_bytes: int = CHUNK_BYTES,
) -> npt.NDArray[np.int64]:
    """The argmax token at the last position of every prompt, computed in chunks."""
    token_ids = np.asarray(tokens)
    predicted = np.zeros(token_ids.shape[0], np.int64)
    for start, stop, logits in last_position_logits(weights, config, token_ids, chunk_bytes):
        predicted[start:stop] = np.argmax(logits, axis=1)
    return predicted


def last_position_logits(
    weights: Weights, config: TransformerConfig, tokens: npt.NDArray[Any], chunk_bytes: int
) -> Iterator[tuple[int, int, FloatArray]]:
    """Yield ``(start, stop, logits[start:stop, d_vocab])`` chunk by chunk, last position only."""
    chunk = chunk_size(config, chunk_bytes)
    for start in range(0, tokens.shape[0], chunk):
        stop = min(start + chunk, tokens.shape[0])
        yield start, stop, forward(weights, config, tokens[start:stop], last_position_only=True)


@dataclass(frozen=True, eq=False)
class PromptScores:
    """Scores of a batch of prompts, before they are mapped back to facts."""

    n_prompts: int
    n_correct: int
    min_margin: float
    failed_indices: npt.NDArray[np.int64]  # the first failures, by prompt index
    failed_predictions: npt.NDArray[np.int64]  # the token the model predicted for each


def score_prompts(
    weights: Weights,
    config: TransformerConfig,
    tokens: npt.ArrayLike,
    answers: npt.ArrayLike,
    *,
    chunk_bytes: int = CHUNK_BYTES,
    max_failures: int = 10,
    progress: ProgressCallback | None = None,
) -> PromptScores:
    """Run every prompt through the forward pass, in chunks, and score the last position.

    Parameters
    ----------
    weights, config
        The model.
    tokens : array_like of int, shape [n, pos]
        The prompts.
    answers : array_like of int, shape [n]
        The expected token of each prompt.
    chunk_bytes : int
        Bytes of working memory for one chunk; the chunk holds
        ``max(1, chunk_bytes // bytes_per_prompt(config))`` prompts.
    max_failures : int
        How many failures to keep.
    progress : callable, optional
        Called with the number of prompts finished after each chunk.

    Returns
    -------
    PromptScores
    """
    token_ids = np.asarray(tokens)
    expected = np.asarray(answers)
    if token_ids.ndim != 2 or expected.shape != (token_ids.shape[0],):
        raise ValueError(
            f"tokens [n, pos] and answers [n] disagree: {token_ids.shape} and {expected.shape}"
        )
    max_failures = require_int("max_failures", max_failures, minimum=0)

    n_correct = 0
    min_margin = np.inf
    failed_indices: list[npt.NDArray[np.int64]] = []
    failed_predictions: list[npt.NDArray[np.int64]] = []
    n_failed_kept = 0
    for start, stop, logits in last_position_logits(weights, config, token_ids, chunk_bytes):
        rows = np.arange(stop - start)
        target = expected[start:stop]
        predicted = np.argmax(logits, axis=1)
        true_logit = logits[rows, target]
        logits[rows, target] = -np.inf
        margins = true_logit - logits.max(axis=1)
        correct = predicted == target
        n_correct += int(correct.sum())
        min_margin = min(min_margin, float(margins.min()))
        if n_failed_kept < max_failures:
            wrong = np.flatnonzero(~correct)[: max_failures - n_failed_kept]
            failed_indices.append((wrong + start).astype(np.int64))
            failed_predictions.append(predicted[wrong].astype(np.int64))
            n_failed_kept += wrong.size
        del logits
        if progress is not None:
            progress(stop - start)
    empty = np.zeros(0, np.int64)
    return PromptScores(
        n_prompts=int(token_ids.shape[0]),
        n_correct=n_correct,
        min_margin=min_margin,
        failed_indices=np.concatenate(failed_indices) if failed_indices else empty,
        failed_predictions=np.concatenate(failed_predictions) if failed_predictions else empty,
    )
