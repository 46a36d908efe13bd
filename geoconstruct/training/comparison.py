"""The library's analyses on trained weights, beside the closed-form construction at the same size.

:func:`trained_row` trains one model (:func:`~geoconstruct.training.trainer.train_single_hop`)
and reads it with the probes every construction is read with: recall by the numpy forward pass,
the superposition fit's R² (codes from the trained unembedding), the selector profile's verdict,
the causal intervention with the fitted ``B_r``, and zero-shot transfer (the subject embeddings
rewritten from the fit for fresh bijections; attention, MLP and unembedding kept).
:func:`construction_row` gives the same figures for the construction, read through its own
``B_r``.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from geoconstruct.analysis.mechanism.interventions import intervention_probe
from geoconstruct.analysis.mechanism.probes import (
    SuperpositionProbe,
    selector_profile,
    superposition_fit,
    superposition_probe,
)
from geoconstruct.analysis.mechanism.transfer import (
    fit_superposition,
    reinitialize,
    reinitialize_weights,
)
from geoconstruct.analysis.output.tables import Columns
from geoconstruct.constructions.single_hop import construct_single_hop
from geoconstruct.constructions.single_hop_sizes import proven_dimension
from geoconstruct.facts import Facts, random_facts
from geoconstruct.model.transformer import TransformerConfig, Weights
from geoconstruct.training.trainer import (
    DEFAULT_LEARNING_RATE,
    DEFAULT_STEPS,
    DEFAULT_WEIGHT_DECAY,
    train_single_hop,
)

__all__ = ["TRANSFER_SEEDS", "ComparisonRow", "construction_row", "trained_row"]

FloatArray = npt.NDArray[np.float64]

TRANSFER_SEEDS = (1, 2, 3)
"""Seeds of the fresh bijections a transfer is measured on (offset by the model's seed)."""


@dataclass(frozen=True)
class ComparisonRow:
    """One model read by the probes: trained, trained with frozen embeddings, or constructed.

    ``superposition_r2`` is the least-squares fit's R² (``adjusted_r2`` discounts its ``R·k``
    regressors); ``transfer`` is the mean accuracy on ``transfer_seeds`` fresh bijection sets.
    """

    COLUMNS: ClassVar[Columns] = (
        ("N", "n_subjects", "{:,}"),
        ("R", "n_relations", "{}"),
        ("model", "model", "{}"),
        ("d", "d_model", "{}"),
        ("d_mlp", "d_mlp", "{}"),
        ("recall", "accuracy", "{:.4f}"),
        ("superposition R²", "superposition_r2", "{:.3f}"),
        ("adjusted R²", "adjusted_r2", "{:.3f}"),
        ("MLP verdict", "selector_verdict", "{}"),
        ("intervention moved", "intervention_moved", "{:.3f}"),
        ("others kept", "intervention_kept", "{:.3f}"),
        ("intervention success", "intervention_success", "{:.3f}"),
        ("transfer (new facts)", "transfer", "{:.4f}"),
        ("seconds", "seconds", "{:.1f}"),
    )

    n_subjects: int
    n_relations: int
    model: str
    d_model: int
    d_mlp: int
    seed: int
    accuracy: float
    superposition_r2: float
    adjusted_r2: float
    selector_verdict: str
    intervention_moved: float
    intervention_kept: float
    intervention_success: float
    transfer: float
    transfer_seeds: tuple[int, ...]
    final_loss: float | None
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def trained_row(
    n_subjects: int,
    n_relations: int,
    d: int,
    *,
    d_mlp: int | None = None,
    steps: int = DEFAULT_STEPS,
    learning_rate: float = DEFAULT_LEARNING_RATE,
    weight_decay: float = DEFAULT_WEIGHT_DECAY,
    seed: int = 0,
    freeze_embeddings: bool = False,
    transfer_seeds: Sequence[int] = TRANSFER_SEEDS,
    progress: Callable[[int], None] | None = None,
) -> ComparisonRow:
    """Train one model and read it with every probe (see the module's docstring).

    Parameters
    ----------
    d_mlp : int, optional
        The MLP's width; None gives 4·d.
    steps : int
        Full-batch AdamW steps.
    learning_rate : float
        AdamW's step size.
    weight_decay : float
        AdamW's weight decay.
    freeze_embeddings : bool
        Keep ``W_E`` at its random initialisation (the frozen-embedding control).
    transfer_seeds : sequence of int
        Offsets to ``seed`` of the fresh fact sets transferred to.
    """
    start = time.perf_counter()
    model = train_single_hop(
        n_subjects,
        n_relations,
        d,
        d_mlp=d_mlp,
        steps=steps,
        learning_rate=learning_rate,
        weight_decay=weight_decay,
        seed=seed,
        freeze_embeddings=freeze_embeddings,
        progress=progress,
    )
    weights, facts = model.weights, model.facts
    fit = fit_superposition(weights, facts)
    transfers = []
    for offset in transfer_seeds:
        new_facts = random_facts(n_subjects, n_relations, seed + offset)
        moved = reinitialize_weights(weights, fit, new_facts)
        transfers.append(
            dataclasses.replace(model, weights=MappingProxyType(moved), facts=new_facts)
            .recall()
            .accuracy
        )
    return _read(
        "trained, frozen embeddings" if freeze_embeddings else "trained",
        weights,
        model.config,
        facts,
        codes=fit.codes,
        read_maps=fit.read_maps,
        subject_columns=slice(None),
        probe=superposition_probe(fit, n_subjects),
        accuracy=model.recall().accuracy,
        transfers=transfers,
        transfer_seeds=transfer_seeds,
        final_loss=model.losses[-1],
        seed=seed,
        start=start,
    )


def construction_row(
    n_subjects: int,
    n_relations: int,
    *,
    seed: int = 0,
    transfer_seeds: Sequence[int] = TRANSFER_SEEDS,
) -> ComparisonRow:
    """The paper's construction at its proved d, read through its own ``B_r`` and codes.

    The superposition R² is the least-squares fit's where it is identifiable (``N >= R·k``),
    else NaN.

    Parameters
    ----------
    transfer_seeds : sequence of int
        Offsets to ``seed`` of the fresh fact sets transferred to.
    """
    start = time.perf_counter()
    d = proven_dimension(n_subjects, n_relations)
    construction = construct_single_hop(n_subjects, n_relations, d, seed=seed)
    weights, facts = construction.weights, construction.facts
    try:
        probe: SuperpositionProbe | None = superposition_fit(weights, facts)
    except ValueError:  # R·k > N: the fit cannot identify B_r
        probe = None
    transfers = [
        reinitialize(construction, random_facts(n_subjects, n_relations, seed + offset))
        .recall()
        .accuracy
        for offset in transfer_seeds
    ]
    return _read(
        "construction",
        weights,
        construction.config,
        facts,
        codes=construction.codebook.codes,
        read_maps=construction.metadata.read_maps,
        subject_columns=construction.residual["subject"],
        probe=probe,
        accuracy=construction.recall().accuracy,
        transfers=transfers,
        transfer_seeds=transfer_seeds,
        final_loss=None,
        seed=seed,
        start=start,
    )


def _read(
    model: str,
    weights: Weights,
    config: TransformerConfig,
    facts: Facts,
    *,
    codes: FloatArray,
    read_maps: FloatArray,
    subject_columns: slice,
    probe: SuperpositionProbe | None,
    accuracy: float,
    transfers: Sequence[float],
    transfer_seeds: Sequence[int],
    final_loss: float | None,
    seed: int,
    start: float,
) -> ComparisonRow:
    """The row of one model: the intervention (through ``read_maps`` and ``codes``) and the
    selector profile run here, beside what the caller measured."""
    intervention = intervention_probe(
        weights, config, facts, codes, read_maps, subject_columns=subject_columns, seed=seed
    )
    return ComparisonRow(
        n_subjects=facts.n_subjects,
        n_relations=facts.n_relations,
        model=model,
        d_model=config.d_model,
        d_mlp=config.d_mlp,
        seed=seed,
        accuracy=accuracy,
        superposition_r2=math.nan if probe is None else probe.r2,
        adjusted_r2=math.nan if probe is None else probe.adjusted_r2,
        selector_verdict=selector_profile(weights, config, facts).verdict,
        intervention_moved=intervention.moved,
        intervention_kept=intervention.kept,
        intervention_success=intervention.success,
        transfer=float(np.mean(transfers)),
        transfer_seeds=tuple(seed + offset for offset in transfer_seeds),
        final_loss=final_loss,
        seconds=time.perf_counter() - start,
    )
