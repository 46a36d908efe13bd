"""Read the structure off any single-hop weights in TransformerLens names (``docs/design.md`` §8).

Both probes take weights alone (a construction's, a baseline's, a loaded file's) and the facts
they should store, in the library's token layout: subjects ``[0, N)``, relations ``[N, N+R)``,
attributes ``[N+R, 2N+R)``; attribute codes are read off the unembedding's attribute columns.

:func:`superposition_fit`
    How much of the subject embeddings the superposition ``e_s = Σ_r B_r u_{π_r(s)}`` explains:
    R² overall and per relation (least squares, :func:`~.transfer.fit_superposition`).
:func:`selector_profile`
    What every MLP hidden unit does on the query prompts: which relations open it, on how many
    prompts it fires, and how much of its pre-activation is a linear function of the *selected
    attribute's code*. A selector unit opens for one relation, fires for a large share of the
    subjects, and reads the selected code (``attribute_r2`` near 1: it depends on the subject only
    through the attribute it selects). A key–value unit fires for a single fact, and what it
    reads is the subject's key, not the answer's code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from geoconstruct._validation import (
    DEFAULT_MEMORY_BUDGET,
    require_int,
    require_probability,
    require_within_budget,
)
from geoconstruct.analysis.mechanism.transfer import (
    SuperpositionFit,
    fit_superposition,
    unembedding_codes,
)
from geoconstruct.constructions.queries import sample_queries
from geoconstruct.facts import Facts
from geoconstruct.model.transformer import TransformerConfig, Weights, residual_stream
from geoconstruct.model.vocabulary import Vocabulary

__all__ = [
    "UNIT_KINDS",
    "SelectorProfile",
    "SuperpositionProbe",
    "selector_profile",
    "superposition_fit",
    "superposition_probe",
]

FloatArray = npt.NDArray[np.float64]
UNIT_KINDS = ("selector", "fact", "dead", "other")


@dataclass(frozen=True)
class SuperpositionProbe:
    """R² of the superposition fit: overall, adjusted and per relation (partial R²).

    ``adjusted_r2`` discounts the ``R·k`` regressors per embedding coordinate,
    ``1 − (1 − R²)(N − 1)/(N − R·k − 1)``: weights that are not a superposition can reach a
    plain R² of ``R·k/N`` by chance, not an adjusted one.
    """

    r2: float
    adjusted_r2: float
    r2_per_relation: tuple[float, ...]
    code_length: int


def superposition_fit(weights: Weights, facts: Facts) -> SuperpositionProbe:
    """How well ``W_E[s] ≈ Σ_r B_r u_{π_r(s)}`` fits, from weights alone.

    Examples
    --------
    >>> from geoconstruct import construct_single_hop, required_dimension
    >>> grid = {"layout": "block", "codebook": "grid"}
    >>> c = construct_single_hop(500, 3, required_dimension(500, 3, **grid), seed=0, **grid)
    >>> probe = superposition_fit(c.weights, c.facts)
    >>> round(probe.r2, 6), probe.code_length
    (1.0, 2)
    """
    return superposition_probe(fit_superposition(weights, facts), facts.n_subjects)


def superposition_probe(fit: SuperpositionFit, n_subjects: int) -> SuperpositionProbe:
    """The R² of a fit already made to ``n_subjects`` embeddings, adjusted for its ``R·k``
    regressors.

    Parameters
    ----------
    fit : SuperpositionFit
        Read maps and codes fitted from the weights (:func:`fit_superposition`).
    """
    regressors = fit.read_maps.shape[0] * fit.codes.shape[1]
    adjusted = math.nan
    if n_subjects > regressors + 1:
        adjusted = 1.0 - (1.0 - fit.r2) * (n_subjects - 1) / (n_subjects - regressors - 1)
    return SuperpositionProbe(
        r2=fit.r2,
        adjusted_r2=adjusted,
        r2_per_relation=tuple(float(value) for value in fit.r2_per_relation),
        code_length=int(fit.codes.shape[1]),
    )


@dataclass(frozen=True, eq=False)
class SelectorProfile:
    """What each MLP hidden unit does on the query prompts.

    Attributes
    ----------
    n_prompts : int
        Query prompts the profile ran (all ``N·R``, or a seeded sample).
    opens_for : ndarray of bool, shape [d_mlp, R]
        Whether the unit fires on some prompt of relation r.
    fires : ndarray of int, shape [d_mlp]
        Prompts on which the unit fires (pre-activation above ``tolerance``).
    fire_share : ndarray of float, shape [d_mlp]
        ``fires`` over the prompts of the relations that open the unit (0 for a dead unit).
    attribute_r2 : ndarray of float, shape [d_mlp]
        For a unit that one relation opens: adjusted R² of its pre-activation, over that
        relation's prompts, on the codes of *all* the subject's attributes
        ``[u_{π_1(s)}, …, u_{π_R(s)}]`` (with an intercept). A selector reads a superposition of
        them, so 1; a key–value unit reads a key unrelated to them, so about 0. NaN for other
        units, or with too few prompts for the ``R·k + 1`` regressors.
    selected_r2 : ndarray of float, shape [d_mlp]
        The same on the selected attribute's code alone: 1 when the unit depends on the subject
        only through the attribute it selects (block layout), less when other attributes leak in
        (the superposed layout's crosstalk).
    kinds : tuple of str
        Per unit: ``"selector"`` (one relation, fires on at least ``min_share`` of its prompts,
        ``attribute_r2 >= min_r2``), ``"fact"`` (fires on exactly one prompt), ``"dead"`` (never
        fires) or ``"other"``.
    """

    n_prompts: int
    opens_for: npt.NDArray[np.bool_]
    fires: npt.NDArray[np.int64]
    fire_share: FloatArray
    attribute_r2: FloatArray
    selected_r2: FloatArray
    kinds: tuple[str, ...]

    def count(self, kind: str) -> int:
        """How many units are of ``kind`` (one of :data:`UNIT_KINDS`).

        Parameters
        ----------
        kind : str
            One of :data:`UNIT_KINDS`.
        """
        return sum(1 for unit_kind in self.kinds if unit_kind == kind)

    @property
    def verdict(self) -> str:
        """``"selector"``, ``"key_value"`` or ``"undetermined"``: the more common of the two kinds.

        Undetermined when they tie (for example when there were too few prompts to regress on).
        """
        selectors, facts = self.count("selector"), self.count("fact")
        if selectors == facts:
            return "undetermined"
        return "selector" if selectors > facts else "key_value"


def selector_profile(
    weights: Weights,
    config: TransformerConfig,
    facts: Facts,
    *,
    max_prompts: int = 4096,
    seed: int = 0,
    tolerance: float = 1e-9,
    min_share: float = 0.05,
    min_r2: float = 0.9,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
) -> SelectorProfile:
    """Profile every MLP hidden unit of a one-layer model on the query prompts ``[s, r]``.

    Parameters
    ----------
    max_prompts : int
        Run all ``N·R`` prompts up to this many, else this many drawn (without replacement) from
        ``seed``.
    tolerance : float
        A unit fires when its pre-activation exceeds this.
    min_share, min_r2 : float
        The thresholds of the ``"selector"`` kind.

    Examples
    --------
    >>> from geoconstruct import construct_single_hop, required_dimension
    >>> grid = {"layout": "block_separate", "codebook": "grid"}
    >>> c = construct_single_hop(500, 3, required_dimension(500, 3, **grid), seed=0, **grid)
    >>> profile = selector_profile(c.weights, c.config, c.facts)
    >>> profile.verdict, profile.count("selector"), profile.count("dead"), c.config.d_mlp
    ('selector', 9, 3, 12)

    (The second grid digit of 500 codes is 0 or 1, so its negative unit never fires.)
    """
    if config.n_layers != 1:
        raise ValueError(f"selector_profile reads one-layer models, got n_layers={config.n_layers}")
    max_prompts = require_int("max_prompts", max_prompts, minimum=1)
    min_share = require_probability("min_share", min_share)
    n_subjects, n_relations = facts.n_subjects, facts.n_relations
    vocabulary = Vocabulary(n_subjects, n_relations, n_attributes=n_subjects)
    if config.d_vocab != vocabulary.d_vocab:
        raise ValueError(
            f"the model has {config.d_vocab} tokens; N={n_subjects}, R={n_relations} need "
            f"{vocabulary.d_vocab}"
        )
    n_prompts = min(max_prompts, facts.n_facts)
    require_within_budget("this profile", 8 * 4 * n_prompts * (config.d_mlp + 1), memory_budget)
    sample = sample_queries(facts.n_facts, n_prompts, seed)
    queries = np.arange(facts.n_facts) if sample is None else np.sort(sample)
    subjects, relations = queries % n_subjects, queries // n_subjects
    tokens = np.stack([subjects, relations + vocabulary.relation_offset], axis=1)
    pre = _pre_activations(weights, config, tokens)  # [prompts, d_mlp]

    active = pre > tolerance
    opens_for = np.stack(
        [active[relations == r].any(axis=0) for r in range(n_relations)], axis=1
    )  # [d_mlp, R]
    fires = active.sum(axis=0).astype(np.int64)
    prompts_per_relation = np.bincount(relations, minlength=n_relations)
    opening_prompts = opens_for.astype(np.int64) @ prompts_per_relation
    fire_share = np.divide(
        fires, opening_prompts, out=np.zeros(fires.shape), where=opening_prompts > 0
    )

    codes, _ = unembedding_codes(weights["unembed.W_U"], vocabulary)  # [M, k]
    attribute_r2 = np.full(config.d_mlp, np.nan)
    selected_r2 = np.full(config.d_mlp, np.nan)
    single = opens_for.sum(axis=1) == 1
    for relation in range(n_relations):
        units = np.flatnonzero(single & opens_for[:, relation])
        rows = relations == relation
        if units.size == 0:
            continue
        target = pre[rows][:, units]
        every_attribute = np.concatenate(
            [codes[facts.answer(subjects[rows], r)] for r in range(n_relations)], axis=1
        )
        attribute_r2[units] = _adjusted_r2(every_attribute, target)
        selected_r2[units] = _adjusted_r2(codes[facts.answer(subjects[rows], relation)], target)

    kinds = tuple(
        _kind(
            int(fires[u]), bool(single[u]), float(fire_share[u]), attribute_r2[u], min_share, min_r2
        )
        for u in range(config.d_mlp)
    )
    return SelectorProfile(
        n_prompts=n_prompts,
        opens_for=opens_for,
        fires=fires,
        fire_share=fire_share,
        attribute_r2=attribute_r2,
        selected_r2=selected_r2,
        kinds=kinds,
    )


def _adjusted_r2(design: FloatArray, target: FloatArray) -> FloatArray:
    """Adjusted R² of each column of ``target`` [n, units] on ``design`` [n, p] plus an intercept.

    NaN when ``n <= p + 1`` (too few rows to say anything); 1 for a constant column fitted exactly.
    """
    n_rows, n_regressors = design.shape
    if n_rows <= n_regressors + 1:
        return np.full(target.shape[1], np.nan)
    full = np.concatenate([design, np.ones((n_rows, 1))], axis=1)
    solution, *_ = np.linalg.lstsq(full, target, rcond=None)
    residual = ((target - full @ solution) ** 2).sum(axis=0)
    total = ((target - target.mean(axis=0)) ** 2).sum(axis=0)
    plain = 1.0 - residual / np.maximum(total, 1e-300)
    adjusted: FloatArray = 1.0 - (1.0 - plain) * (n_rows - 1) / (n_rows - n_regressors - 1)
    return np.where(total > 0, adjusted, 1.0)


def _kind(
    fires: int, single: bool, share: float, r2: float, min_share: float, min_r2: float
) -> str:
    if fires == 0:
        return "dead"
    if fires == 1:
        return "fact"
    if single and share >= min_share and r2 >= min_r2:  # a NaN r2 is not a selector
        return "selector"
    return "other"


def _pre_activations(
    weights: Weights, config: TransformerConfig, tokens: npt.NDArray[Any]
) -> FloatArray:
    """The MLP's pre-activations at the last position: [prompts, d_mlp] (float64), read at
    the forward pass's ``hook_pre`` point."""
    W = {name: np.asarray(array, dtype=np.float64) for name, array in weights.items()}
    read: dict[str, FloatArray] = {}

    def keep(name: str, activation: FloatArray) -> FloatArray:
        if name == f"blocks.{config.n_layers - 1}.mlp.hook_pre":
            read["pre"] = activation[:, -1]
        return activation

    residual_stream(W, config, tokens, last_position_only=True, hook=keep)
    return read["pre"]
