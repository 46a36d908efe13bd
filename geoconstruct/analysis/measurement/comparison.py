"""The geometric construction beside the associative-memory baselines (``docs/design.md`` §8).

:func:`baselines_table` builds, for every (N, R), the geometric construction (block layout, grid
codes) and both baselines (:mod:`~.baselines`), with the same facts and codebook, and
reports where their parameters sit, whether they recall their facts, and whether they transfer:
the same procedure for every model, from weights alone — fit ``B_r`` by least squares
(:func:`~.transfer.fit_superposition`), rewrite only the subject embeddings for a fresh
set of bijections (:func:`~.transfer.reinitialize_weights`), and check the new facts
through the forward pass. A model too large for the memory budget still gets its parameter counts
(computed without building it) and the reason in ``error``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from geoconstruct._validation import (
    DEFAULT_MEMORY_BUDGET,
    MemoryBudgetError,
    require_choice,
    require_int,
)
from geoconstruct.analysis.mechanism.transfer import fit_superposition, reinitialize_weights
from geoconstruct.analysis.output.tables import Columns
from geoconstruct.constructions.baselines import (
    BASELINE_KINDS,
    baseline_dimension,
    baseline_parameters,
    construct_baseline,
)
from geoconstruct.constructions.construction import Construction
from geoconstruct.constructions.single_hop import construct_single_hop
from geoconstruct.constructions.single_hop_sizes import proven_dimension, single_hop_config
from geoconstruct.facts import random_facts
from geoconstruct.model.transformer import ParameterSplit
from geoconstruct.verification.policy import TABLE_SAMPLE_SIZE

__all__ = ["MODELS", "BaselineRow", "baselines_table"]

MODELS = ("geometric", *BASELINE_KINDS)

GEOMETRIC_LAYOUT, GEOMETRIC_CODEBOOK = "block", "grid"
"""The geometric construction the baselines are compared with: the exact regime."""
TRANSFER_SEED_OFFSET = 10_000
"""The fresh facts of a transfer check are drawn from ``seed + TRANSFER_SEED_OFFSET``."""


@dataclass(frozen=True)
class BaselineRow:
    """One model at one (N, R): parameters, recall, and recall of new facts after transfer.

    ``recall`` and ``transfer`` are accuracies over ``checked`` queries (all ``N·R`` facts, or a
    seeded sample); chance is about ``1/N``. ``superposition_r2`` is the least-squares fit's R²
    that the transfer starts from. None where the model was not built (see ``error``).
    """

    COLUMNS: ClassVar[Columns] = (
        ("N", "n_subjects", "{:,}"),
        ("R", "n_relations", "{}"),
        ("model", "model", "{}"),
        ("d", "d_model", "{:,}"),
        ("MLP params", "mlp_params", "{:,}"),
        ("embedding params", "embedding_params", "{:,}"),
        ("total params", "total_params", "{:,}"),
        ("params / fact", "params_per_fact", "{:.1f}"),
        ("queries checked", "checked", "{:,}"),
        ("recall", "recall", "{:.4f}"),
        ("superposition R²", "superposition_r2", "{:.3f}"),
        ("transfer (new facts)", "transfer", "{:.4f}"),
        ("seconds", "seconds", "{:.2f}"),
    )

    n_subjects: int
    n_relations: int
    model: str
    d_model: int
    mlp_params: int
    embedding_params: int
    total_params: int
    params_per_fact: float
    checked: int | None
    recall: float | None
    superposition_r2: float | None
    transfer: float | None
    seconds: float
    error: str | None = None


def baselines_table(
    subjects: Iterable[int],
    relations: Iterable[int],
    *,
    models: Iterable[str] = MODELS,
    seed: int = 0,
    max_checked: int = TABLE_SAMPLE_SIZE,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    progress: Callable[[int], None] | None = None,
) -> list[BaselineRow]:
    """One row per (N, R, model): parameters, recall, superposition fit and transfer.

    Parameters
    ----------
    subjects, relations : iterables of int
    models : iterable of {"geometric", "key_value", "outer_product"}
    max_checked : int
        Check every fact up to this many queries, else a seeded sample of this many.

    Examples
    --------
    >>> rows = baselines_table([256], [4], max_checked=500)
    >>> [(row.model, row.recall, row.transfer) for row in rows]  # doctest: +ELLIPSIS
    [('geometric', 1.0, 1.0), ('key_value', 1.0, 0.0...), ('outer_product', 1.0, 0.0...)]
    """
    max_checked = require_int("max_checked", max_checked, minimum=1)
    chosen = [require_choice("model", model, MODELS) for model in models]
    rows = []
    for n_subjects in subjects:
        for n_relations in relations:
            for model in chosen:
                rows.append(_row(n_subjects, n_relations, model, seed, max_checked, memory_budget))
                if progress is not None:
                    progress(1)
    return rows


def _row(
    n_subjects: int, n_relations: int, model: str, seed: int, max_checked: int, memory_budget: int
) -> BaselineRow:
    start = time.perf_counter()
    if model == "geometric":
        geometric = {"layout": GEOMETRIC_LAYOUT, "codebook": GEOMETRIC_CODEBOOK}
        d = proven_dimension(n_subjects, n_relations, **geometric)
        counts = ParameterSplit.of(single_hop_config(n_subjects, n_relations, d, **geometric))
    else:
        d = baseline_dimension(n_subjects, n_relations, model)
        counts = baseline_parameters(n_subjects, n_relations, model)
    row = BaselineRow(
        n_subjects=n_subjects,
        n_relations=n_relations,
        model=model,
        d_model=d,
        mlp_params=counts.mlp,
        embedding_params=counts.embedding,
        total_params=counts.total,
        params_per_fact=counts.total / (n_subjects * n_relations),
        checked=None,
        recall=None,
        superposition_r2=None,
        transfer=None,
        seconds=0.0,
    )
    try:
        built = _build(n_subjects, n_relations, model, d, seed, memory_budget)
        checked = min(max_checked, built.facts.n_facts)
        recall = _accuracy(built, checked, seed)
        fit = fit_superposition(built.weights, built.facts)
        new_facts = random_facts(n_subjects, n_relations, seed + TRANSFER_SEED_OFFSET)
        moved_weights = {
            name: np.asarray(array, dtype=built.config.dtype)
            for name, array in reinitialize_weights(built.weights, fit, new_facts).items()
        }
        moved = built.with_weights(
            moved_weights, facts=new_facts, change="reinitialize_weights from fitted read maps"
        )
        transfer = _accuracy(moved, checked, seed + 1)
    except MemoryBudgetError as error:
        needed, budget = (error.needed or 0) / 2**30, (error.budget or 0) / 2**30
        message = f"not built: needs about {needed:,.1f} GiB, over the {budget:.1f} GiB budget"
        return dataclasses.replace(row, seconds=time.perf_counter() - start, error=message)
    except ValueError as error:
        elapsed = time.perf_counter() - start
        return dataclasses.replace(row, seconds=elapsed, error=f"{type(error).__name__}: {error}")
    return dataclasses.replace(
        row,
        checked=checked,
        recall=recall,
        superposition_r2=fit.r2,
        transfer=transfer,
        seconds=time.perf_counter() - start,
    )


def _build(
    n_subjects: int, n_relations: int, model: str, d: int, seed: int, memory_budget: int
) -> Construction:
    if model == "geometric":
        return construct_single_hop(
            n_subjects,
            n_relations,
            d,
            seed=seed,
            dtype="float32",
            memory_budget=memory_budget,
            layout=GEOMETRIC_LAYOUT,
            codebook=GEOMETRIC_CODEBOOK,
        )
    return construct_baseline(
        n_subjects, n_relations, model, seed=seed, dtype="float32", memory_budget=memory_budget
    )


def _accuracy(model: Construction, checked: int, seed: int) -> float:
    """Share of ``checked`` queries (all, or a seeded sample) the forward pass answers right."""
    return model.recall(sample=checked, seed=seed).accuracy
