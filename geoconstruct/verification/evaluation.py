"""The forward pass as the judge: run many prompts in bounded memory and score the answers.

:func:`score_prompts` runs the forward pass on chunks of prompts and keeps, for each, whether
the argmax over the **whole vocabulary** is the expected token and the logit margin (expected
logit minus the best other logit). It computes what :func:`~geoconstruct.model.transformer.forward`
computes, in an order that runs at the speed of the unembedding's matrix product: the residual
stream of a chunk of prompts (:data:`CHUNK_BYTES` of working memory, :func:`bytes_per_prompt`
a prompt), then its logits for :func:`unembedding_rows` prompts at a time, a tile of
vocabulary columns at a time, into one reused, cache-sized buffer (:data:`UNEMBEDDING_BLOCK_BYTES`).
Each tile is reduced while it is in cache: the expected logit is read, and the best other logit
and its first index are updated from one argmax pass over the tile, so no whole row of
``d_vocab`` logits is ever held; the argmax over the whole row, the first of equal maxima as
``np.argmax`` takes it, follows from the two. :func:`plan_chunk_bytes` fits the prompt table, a
chunk and the buffer into a caller's memory budget, or refuses before anything is allocated.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
from array_api_compat import array_namespace
from array_api_compat import device as device_of

from geoconstruct._validation import require_int, require_within_budget
from geoconstruct.model.backends import BACKENDS, maps_on, require_backend, to_numpy
from geoconstruct.model.transformer import TransformerConfig, Weights, linear_maps, residual_stream
from geoconstruct.verification.report import PromptScores, rank_in_group

__all__ = [
    "BACKENDS",
    "CHUNK_BYTES",
    "UNEMBEDDING_BLOCK_BYTES",
    "UNEMBEDDING_ROWS",
    "LogitSummary",
    "bytes_per_prompt",
    "chunk_size",
    "plan_chunk_bytes",
    "predict_tokens",
    "predict_with_margins",
    "require_backend",
    "score_prompts",
    "unembedding_rows",
    "unembedding_tile",
]

CHUNK_BYTES = 256 * 2**20
"""Working memory of one chunk of residual streams (256 MiB) when the budget allows it."""

UNEMBEDDING_BLOCK_BYTES = 16 * 2**20
"""Target size of the logits buffer: :data:`UNEMBEDDING_ROWS` prompts by a tile of columns."""

UNEMBEDDING_ROWS = 1024
"""Prompts unembedded at once: enough rows for the matrix product to run near the BLAS peak."""

ProgressCallback = Callable[[int], None]
FloatArray = npt.NDArray[np.floating[Any]]
Ints = npt.NDArray[np.int64]


def bytes_per_prompt(config: TransformerConfig) -> int:
    """An upper bound on the bytes one prompt occupies in a chunk, before the unembedding.

    Counts every array the forward pass holds at once for one prompt: the residual stream and its
    updates, queries/keys/values and their reshaped copies, attention scores and pattern, and the
    MLP pre-activations and hidden units of every layer.

    """
    itemsize = np.dtype(config.dtype).itemsize
    heads = config.n_heads * config.d_head
    per_layer = config.n_ctx * (
        6 * config.d_model + 8 * heads + 4 * config.n_heads * config.n_ctx + 3 * config.d_mlp
    )
    return itemsize * (config.n_layers * per_layer + 2 * config.n_ctx + 4)


def unembedding_rows(config: TransformerConfig, *, tileable: bool = True) -> int:
    """Prompts unembedded at once: :data:`UNEMBEDDING_ROWS`, or, where the unembedding cannot be
    computed a tile of columns at a time, the rows of ``d_vocab`` logits that fill
    :data:`UNEMBEDDING_BLOCK_BYTES`.

    Parameters
    ----------
    tileable : bool
        Whether the unembedding may be computed a tile of the vocabulary at a time.
    """
    if tileable:
        return UNEMBEDDING_ROWS
    return max(1, UNEMBEDDING_BLOCK_BYTES // (config.d_vocab * np.dtype(config.dtype).itemsize))


def unembedding_tile(config: TransformerConfig) -> int:
    """Vocabulary columns per tile: :data:`UNEMBEDDING_ROWS` of them fill the logits buffer."""
    itemsize = np.dtype(config.dtype).itemsize
    return min(config.d_vocab, max(1, UNEMBEDDING_BLOCK_BYTES // (UNEMBEDDING_ROWS * itemsize)))


def _unembedding_bytes(config: TransformerConfig) -> int:
    """The logits buffer and the per-row summaries of one block, tiled or not (the larger)."""
    itemsize = np.dtype(config.dtype).itemsize
    tiled = UNEMBEDDING_ROWS * (unembedding_tile(config) * itemsize + 64)
    whole = unembedding_rows(config, tileable=False) * (config.d_vocab * itemsize + 64)
    return max(tiled, whole)


def chunk_size(config: TransformerConfig, chunk_bytes: int) -> int:
    """Prompts per chunk: ``max(1, chunk_bytes // bytes_per_prompt(config))``.

    Parameters
    ----------
    chunk_bytes : int
        Bytes one chunk of prompts may take.
    """
    chunk_bytes = require_int("chunk_bytes", chunk_bytes, minimum=1)
    return max(1, chunk_bytes // bytes_per_prompt(config))


def plan_chunk_bytes(
    config: TransformerConfig, n_prompts: int, memory_budget: int, task: str = "recall"
) -> int:
    """Bytes for one chunk once the prompt table, the answers and the logits buffer fit.

    Raises :class:`~geoconstruct._validation.MemoryBudgetError` (a ``MemoryError``), before
    anything is allocated, when the ``[n, n_ctx]`` table, the answers, the logits buffer and a
    one-prompt chunk together exceed ``memory_budget``.

    Parameters
    ----------
    n_prompts : int
        The prompts to score.
    task : str
        ``"recall"`` (the answers' margins) or ``"predict"`` (the argmax only).
    """
    fixed = n_prompts * (config.n_ctx + 1) * np.dtype(np.int64).itemsize
    fixed += _unembedding_bytes(config)
    require_within_budget(task, fixed + bytes_per_prompt(config), memory_budget)
    return min(CHUNK_BYTES, memory_budget - fixed)


def predict_tokens(
    weights: Weights,
    config: TransformerConfig,
    tokens: npt.ArrayLike,
    *,
    chunk_bytes: int = CHUNK_BYTES,
    backend: str = "numpy",
    device: str = "cpu",
) -> npt.NDArray[np.int64]:
    """The argmax token at the last position of every prompt, computed in chunks.

    Parameters
    ----------
    chunk_bytes : int
        Bytes one chunk of prompts may take.
    """
    token_ids = np.asarray(tokens)
    predicted = np.zeros(token_ids.shape[0], np.int64)
    summaries = logit_summaries(weights, config, token_ids, None, chunk_bytes, backend, device)
    for first, block in summaries:
        predicted[first : first + block.predicted.shape[0]] = block.predicted
    return predicted


def predict_with_margins(
    weights: Weights,
    config: TransformerConfig,
    tokens: npt.ArrayLike,
    answers: npt.ArrayLike,
    *,
    chunk_bytes: int = CHUNK_BYTES,
    backend: str = "numpy",
    device: str = "cpu",
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """The argmax token of every prompt and its margin: answer logit minus best other logit.

    Like :func:`score_prompts`, but keeps every prediction (the chain-of-thought loop feeds them
    back as the next prompt's token). A margin is positive iff the answer is the strict argmax.

    Parameters
    ----------
    answers : array_like of int
        The answer token of each prompt.
    chunk_bytes : int
        Bytes one chunk of prompts may take.
    """
    token_ids = np.asarray(tokens)
    expected = np.asarray(answers)
    predicted = np.zeros(token_ids.shape[0], np.int64)
    margins = np.zeros(token_ids.shape[0], np.float64)
    summaries = logit_summaries(weights, config, token_ids, expected, chunk_bytes, backend, device)
    for first, block in summaries:
        rows = slice(first, first + block.predicted.shape[0])
        predicted[rows] = block.predicted
        margins[rows] = block.answer_logit - block.best_other
    return predicted, margins


class LogitSummary(NamedTuple):
    """What scoring reads from a block of prompts' last-position logits."""

    predicted: Any  # [n] int64: the argmax token (the first of equal maxima)
    answer_logit: Any  # [n] float64: the expected token's logit (NaN when not asked for)
    best_other: Any  # [n] float64: the best logit of every other token (of all, with no answer)


def logit_summaries(
    weights: Weights,
    config: TransformerConfig,
    tokens: npt.NDArray[Any],
    answers: npt.NDArray[Any] | None,
    chunk_bytes: int,
    backend: str = "numpy",
    device: str = "cpu",
) -> Iterator[tuple[int, LogitSummary]]:
    """Yield ``(first, summary)`` for prompts ``first, first + 1, ...``: the last position's logits,
    as :func:`~geoconstruct.model.transformer.forward` computes them (it is the same code, on
    the same nonzero blocks), reduced a tile at a time (see the module docstring), with numpy or,
    with ``backend="torch"``, with torch tensors on ``device``."""
    require_backend(backend, device)
    maps = maps_on(linear_maps(weights, config), backend, device)  # built once for every chunk
    unembed = maps["unembed.W_U"]
    xp = array_namespace(unembed.bias)  # numpy, or torch on the device
    chunk = chunk_size(config, chunk_bytes)
    rows = min(chunk, unembedding_rows(config, tileable=unembed.tileable))
    chunk -= chunk % rows  # whole blocks of rows: no short block at the end of every chunk
    width = unembedding_tile(config) if unembed.tileable else config.d_vocab
    buffer = xp.empty(
        (min(rows, tokens.shape[0]), width),
        dtype=unembed.bias.dtype,
        device=device_of(unembed.bias),
    )
    targets = None if answers is None else xp.asarray(answers, device=device_of(unembed.bias))
    for start in range(0, tokens.shape[0], chunk):
        prompts = tokens[start : start + chunk]
        resid = residual_stream(weights, config, prompts, last_position_only=True, maps=maps)
        for first in range(0, prompts.shape[0], rows):
            block = resid[first : first + rows, -1]  # [rows, d_model]
            at = start + first
            target = None if targets is None else targets[at : at + block.shape[0]]
            tiles = unembed.column_tiles(block, width, buffer)
            summary = _reduce_tiles(tiles, block.shape[0], target)
            yield at, LogitSummary(*(to_numpy(part) for part in summary))


def _reduce_tiles(tiles: Iterator[tuple[int, Any]], n: int, target: Any | None) -> LogitSummary:
    """Fold column tiles of ``n`` rows of logits into their :class:`LogitSummary` (arrays of the
    tiles' library).

    Each tile costs one argmax pass; its maxima replace the running best where they improve it
    (strictly: an earlier index keeps a tie). The answer's column is read and then left out of
    the best, so that the argmax over the whole row follows at the end: the answer if it beats
    every other token, the best other's first index if it loses, the earlier of the two on a tie
    (NaN wins, the first first, as in ``np.argmax``).
    """
    xp: Any = None
    for first, logits in tiles:
        if xp is None:
            xp, where = array_namespace(logits), {"device": device_of(logits)}
            best = xp.full(n, -math.inf, dtype=xp.float64, **where)  # the best but the answer
            best_at = xp.zeros(n, dtype=xp.int64, **where)  # its first index
            answer_logit = xp.full(n, math.nan, dtype=xp.float64, **where)
            everyone = xp.arange(n, **where)
        inside = columns = xp.zeros(0, dtype=xp.int64, **where)
        if target is not None:
            (inside,) = xp.nonzero((target >= first) & (target < first + logits.shape[1]))
            columns = target[inside] - first
        if logits.shape[0] == n:
            answer_logit[inside] = xp.astype(logits[inside, columns], xp.float64)
            logits[inside, columns] = -math.inf
            _fold(xp, best, best_at, everyone, logits, first)
            continue
        # One row for every prompt: as it is, and without the answer where the answer lies in it.
        elsewhere = xp.ones(n, dtype=xp.bool, **where)
        elsewhere[inside] = False
        _fold(xp, best, best_at, xp.nonzero(elsewhere)[0], logits, first)
        own = xp.asarray(xp.broadcast_to(logits, (inside.shape[0], logits.shape[1])), copy=True)
        picked = xp.arange(inside.shape[0], **where)
        answer_logit[inside] = xp.astype(own[picked, columns], xp.float64)
        own[picked, columns] = -math.inf
        _fold(xp, best, best_at, inside, own, first)
    if target is None:
        return LogitSummary(best_at, answer_logit, best)
    answer_nan, best_nan = xp.isnan(answer_logit), xp.isnan(best)
    earlier = xp.minimum(target, best_at)
    predicted = xp.where(
        answer_nan | best_nan,
        xp.where(answer_nan & best_nan, earlier, xp.where(answer_nan, target, best_at)),
        xp.where(answer_logit > best, target, xp.where(answer_logit < best, best_at, earlier)),
    )
    return LogitSummary(xp.astype(predicted, xp.int64), answer_logit, best)


def _fold(xp: Any, best: Any, best_at: Any, rows: Any, logits: Any, first: int) -> None:
    """Fold ``logits`` [len(rows), width] (or [1, width], the same for every row), whose first
    column is ``first``, into the running ``best`` and ``best_at`` of ``rows``."""
    if rows.shape[0] == 0:
        return
    tile_at = xp.argmax(logits, axis=1)  # one pass: NaN wins, else the first of equal maxima
    tile_best = xp.astype(
        logits[xp.arange(logits.shape[0], device=device_of(logits)), tile_at], xp.float64
    )
    tile_at = xp.broadcast_to(tile_at, rows.shape)
    tile_best = xp.broadcast_to(tile_best, rows.shape)
    current = best[rows]
    improved = (tile_best > current) | (xp.isnan(tile_best) & ~xp.isnan(current))  # ties stay
    best[rows[improved]] = tile_best[improved]
    best_at[rows[improved]] = first + xp.astype(tile_at[improved], xp.int64)


def score_prompts(
    weights: Weights,
    config: TransformerConfig,
    tokens: npt.ArrayLike,
    answers: npt.ArrayLike,
    *,
    chunk_bytes: int = CHUNK_BYTES,
    max_failures: int = 10,
    progress: ProgressCallback | None = None,
    executor: Executor | None = None,
    stop_at_first_miss: bool = False,
    backend: str = "numpy",
    device: str = "cpu",
    groups: npt.ArrayLike | None = None,
    n_groups: int = 0,
) -> PromptScores:
    """Run every prompt through the forward pass, in chunks, and score the last position.

    Parameters
    ----------
    answers : array_like of int, shape [n]
        The expected token of each prompt.
    chunk_bytes : int
        Bytes of working memory for one chunk; the chunk holds
        ``max(1, chunk_bytes // bytes_per_prompt(config))`` prompts.
    max_failures : int
        How many failures to keep (of each group, with ``groups``).
    stop_at_first_miss : bool
        Stop after the block of prompts (at most :data:`UNEMBEDDING_ROWS`; with an executor, the
        chunk) that holds the first wrong answer: ``n_prompts`` then counts the prompts scored,
        and the prompts after them were not run. A pass/fail check over prompts in a random
        order pays for a failing model only up to its first miss.
    groups : array_like of int, shape [n], optional
        A group id in ``[0, n_groups)`` per prompt (the relation of a single-hop prompt): the
        scores then count the failures of each group and keep the first ``max_failures`` of
        each, so that a report can show failures of every group and each group's accuracy.
    n_groups : int
        The number of groups.

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
    require_backend(backend, device)
    group_ids = None if groups is None else np.asarray(groups, dtype=np.int64)
    if group_ids is not None and group_ids.shape != expected.shape:
        raise ValueError(f"groups must have shape {expected.shape}, got {group_ids.shape}")
    if executor is not None:
        task = functools.partial(
            score_prompts,
            dict(weights),
            config,
            chunk_bytes=chunk_bytes,
            max_failures=max_failures,
            stop_at_first_miss=stop_at_first_miss,
            backend=backend,
            device=device,
            n_groups=n_groups,
        )
        step = chunk_size(config, chunk_bytes)
        return _score_on(
            executor,
            task,
            step,
            max_failures,
            token_ids,
            expected,
            progress,
            stop_at_first_miss,
            group_ids,
        )

    n_correct = 0
    min_margin = np.inf
    failed_indices: list[npt.NDArray[np.int64]] = []
    failed_predictions: list[npt.NDArray[np.int64]] = []
    group_failures = None if group_ids is None else np.zeros(n_groups, np.int64)
    n_failed_kept = 0
    n_scored = 0
    summaries = logit_summaries(weights, config, token_ids, expected, chunk_bytes, backend, device)
    for offset, block in summaries:
        n_rows = block.predicted.shape[0]
        n_scored += n_rows
        target = expected[offset : offset + n_rows]
        margins = block.answer_logit - block.best_other
        correct = block.predicted == target  # the argmax decides ties: the first of equal maxima
        n_correct += int(correct.sum())
        min_margin = min(min_margin, float(margins.min()))
        if group_ids is not None and group_failures is not None:
            wrong = np.flatnonzero(~correct)
            wrong_groups = group_ids[offset + wrong]
            group_failures += np.bincount(wrong_groups, minlength=n_groups)
            kept = _first_of_each_group(
                wrong_groups,
                group_failures - np.bincount(wrong_groups, minlength=n_groups),
                max_failures,
            )
            failed_indices.append((wrong[kept] + offset).astype(np.int64))
            failed_predictions.append(block.predicted[wrong[kept]].astype(np.int64))
        elif n_failed_kept < max_failures:
            wrong = np.flatnonzero(~correct)[: max_failures - n_failed_kept]
            failed_indices.append((wrong + offset).astype(np.int64))
            failed_predictions.append(block.predicted[wrong].astype(np.int64))
            n_failed_kept += wrong.size
        if progress is not None:
            progress(n_rows)
        if stop_at_first_miss and n_correct < n_scored:
            break
    empty = np.zeros(0, np.int64)
    return PromptScores(
        n_prompts=n_scored,
        n_correct=n_correct,
        min_margin=min_margin,
        failed_indices=np.concatenate(failed_indices) if failed_indices else empty,
        failed_predictions=np.concatenate(failed_predictions) if failed_predictions else empty,
        group_failures=group_failures,
    )


def _first_of_each_group(
    groups: npt.NDArray[np.int64], already: npt.NDArray[np.int64], limit: int
) -> npt.NDArray[np.bool_]:
    """Which of these failures (in order, of groups ``groups``) to keep so that no group keeps
    more than ``limit``, given ``already`` kept (or seen) of each group before them."""
    keep: npt.NDArray[np.bool_] = already[groups] + rank_in_group(groups) < limit
    return keep


def _score_on(
    executor: Executor,
    task: Callable[[npt.NDArray[Any], npt.NDArray[Any]], PromptScores],
    step: int,
    max_failures: int,
    token_ids: npt.NDArray[Any],
    expected: npt.NDArray[Any],
    progress: ProgressCallback | None,
    stop_at_first_miss: bool = False,
    group_ids: npt.NDArray[np.int64] | None = None,
) -> PromptScores:
    """``task`` (:func:`score_prompts` of the model) on ``step`` prompts at a time, as tasks of
    ``executor``, merged into the scores of all the prompts (the first ``max_failures``).

    With ``stop_at_first_miss`` the chunks after the first one with a miss are cancelled (those
    already running finish and are dropped), so the scores are of a prefix of the prompts."""
    starts = list(range(0, token_ids.shape[0], step))
    futures = [
        executor.submit(
            task,
            token_ids[start : start + step],
            expected[start : start + step],
            **({} if group_ids is None else {"groups": group_ids[start : start + step]}),
        )
        for start in starts
    ]
    parts = []
    for future in futures:
        parts.append(future.result())
        if progress is not None:
            progress(parts[-1].n_prompts)
        if stop_at_first_miss and parts[-1].n_correct < parts[-1].n_prompts:
            for pending in futures[len(parts) :]:
                pending.cancel()
            break
    starts = starts[: len(parts)]
    indices = np.concatenate(
        [part.failed_indices + start for part, start in zip(parts, starts, strict=True)]
        or [np.zeros(0, np.int64)]
    )
    predictions = np.concatenate(
        [part.failed_predictions for part in parts] or [np.zeros(0, np.int64)]
    )
    if group_ids is None:
        kept = np.arange(min(indices.size, max_failures))
        group_failures = None
    else:  # each part kept its first failures of each group; keep the first of all of them
        counts = [part.group_failures for part in parts if part.group_failures is not None]
        group_failures = np.sum(counts, axis=0).astype(np.int64) if counts else np.zeros(0, int)
        n_groups = group_failures.size
        kept = np.flatnonzero(
            _first_of_each_group(group_ids[indices], np.zeros(n_groups, np.int64), max_failures)
        )
    return PromptScores(
        n_prompts=sum(part.n_prompts for part in parts),
        n_correct=sum(part.n_correct for part in parts),
        min_margin=min((part.min_margin for part in parts), default=np.inf),
        failed_indices=indices[kept].astype(np.int64),
        failed_predictions=predictions[kept].astype(np.int64),
        group_failures=group_failures,
    )
