"""Where the transition is measured: the d's of each cell of the transition table.

By default around the predicted ``d_50`` (:func:`law_dims`, :data:`LAW_FACTORS` times it), or at
multiples of ``R·log2 N`` (:func:`transition_dims`), or at the d's asked for (:func:`table_dims`);
:func:`table_cells` lists every (memory, H, L, N, R, d) of a table.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from geoconstruct._validation import require_choice
from geoconstruct.analysis.theory.prediction import (
    MEMORIES,
    has_prediction,
    predicted_success_dimension,
)
from geoconstruct.constructions.baselines import memory_min_dimension
from geoconstruct.constructions.multi_hop import multi_hop_dimension
from geoconstruct.constructions.single_hop_sizes import (
    DEFAULT_CODEBOOK,
    DEFAULT_LAYOUT,
    proven_dimension,
    required_dimension,
)

__all__ = [
    "DEFAULT_RATIOS",
    "LAW_FACTORS",
    "PASSES",
    "law_dims",
    "smallest_dimension",
    "table_cells",
    "table_dims",
    "transition_dims",
]

DEFAULT_RATIOS = (1.0, 2.0, 3.0, 4.0, 6.0, 8.0)
"""The d / (R·log2 N) at which :func:`transition_table` measures where there is no prediction."""

PASSES = ("chain", "single")
"""How a multi-hop query is answered: by chain of thought (L = H) or in a single pass (L = 1)."""

LAW_FACTORS = (0.85, 0.9, 0.95, 1.0, 1.05, 1.1, 1.15, 1.2, 1.3)
"""The d's :func:`law_dims` measures, as multiples of the predicted ``d_50``: the prediction only
places the grid, the law is fitted to what the seeds do there."""


def smallest_dimension(
    n_subjects: int,
    n_relations: int,
    layout: str,
    codebook: str,
    memory: str,
    hops: int = 1,
    steps: int = 1,
) -> int:
    """The smallest d ``memory`` can be assembled at.

    Examples
    --------
    >>> smallest_dimension(256, 4, "superposed", "gaussian", "outer_product")
    6
    """
    memory = require_choice("memory", memory, MEMORIES)
    if memory == "geometric":
        return required_dimension(n_subjects, n_relations, layout=layout, codebook=codebook)
    if memory == "multi_hop":
        return multi_hop_dimension(
            n_subjects, n_relations, hops, steps, layout="superposed", codebook=codebook
        )
    return memory_min_dimension(memory, n_relations)


def transition_dims(
    n_subjects: int,
    n_relations: int,
    ratios: Iterable[float] = DEFAULT_RATIOS,
    *,
    layout: str = DEFAULT_LAYOUT,
    codebook: str = DEFAULT_CODEBOOK,
    memory: str = "geometric",
    hops: int = 1,
    steps: int = 1,
) -> list[int]:
    """The d nearest to each ``ratio · R·log2 N`` that can be assembled, without repeats.

    Parameters
    ----------
    ratios : iterable of float
        The d's as multiples of R·log2 N.

    Examples
    --------
    >>> transition_dims(4096, 4, (1, 2, 4))
    [48, 96, 192]
    """
    low = smallest_dimension(n_subjects, n_relations, layout, codebook, memory, hops, steps)
    r_log2_n = n_relations * math.log2(n_subjects)
    return sorted({max(low, round(ratio * r_log2_n)) for ratio in ratios})


def law_dims(
    n_subjects: int,
    n_relations: int,
    *,
    layout: str = DEFAULT_LAYOUT,
    codebook: str = DEFAULT_CODEBOOK,
    memory: str = "geometric",
    hops: int = 1,
    steps: int = 1,
) -> list[int]:
    """The d's that place the law's grid: :data:`LAW_FACTORS` times the predicted ``d_50``, and
    the proved d (where there is no prediction: :func:`transition_dims` of the default ratios).

    Examples
    --------
    >>> law_dims(4096, 4)
    [163, 173, 182, 192, 202, 211, 221, 230, 249, 250]
    """
    if memory != "geometric" and has_prediction(layout, codebook, memory):
        low = smallest_dimension(n_subjects, n_relations, layout, codebook, memory, hops, steps)
        centre = predicted_success_dimension(
            n_subjects,
            n_relations,
            layout=layout,
            codebook=codebook,
            memory=memory,
            hops=hops,
            steps=steps,
        )
        return sorted({max(low, round(factor * centre)) for factor in LAW_FACTORS})
    if n_relations < 2 or not has_prediction(layout, codebook):
        return transition_dims(n_subjects, n_relations, layout=layout, codebook=codebook)
    low = required_dimension(n_subjects, n_relations, layout=layout, codebook=codebook)
    centre = predicted_success_dimension(n_subjects, n_relations, layout=layout, codebook=codebook)
    proven = proven_dimension(n_subjects, n_relations, layout=layout, codebook=codebook)
    return sorted({max(low, round(factor * centre)) for factor in LAW_FACTORS} | {proven})


def table_dims(
    n_subjects: int,
    n_relations: int,
    dims: Sequence[int] | None = None,
    ratios: Iterable[float] | None = None,
    *,
    layout: str = DEFAULT_LAYOUT,
    codebook: str = DEFAULT_CODEBOOK,
    memory: str = "geometric",
    hops: int = 1,
    steps: int = 1,
) -> list[int]:
    """The d's :func:`transition_table` measures for one (N, R): those of ``dims`` that can be
    assembled, else :func:`transition_dims` of ``ratios``, else :func:`law_dims`.

    Parameters
    ----------
    dims : sequence of int, optional
        The d's asked for.
    ratios : iterable of float, optional
        The d's as multiples of R·log2 N.

    Raises
    ------
    ValueError
        When no d of ``dims`` can be assembled (naming the smallest that can).
    """
    low = smallest_dimension(n_subjects, n_relations, layout, codebook, memory, hops, steps)
    if dims is None and ratios is not None:
        return transition_dims(
            n_subjects,
            n_relations,
            ratios,
            layout=layout,
            codebook=codebook,
            memory=memory,
            hops=hops,
            steps=steps,
        )
    if dims is None:
        return law_dims(
            n_subjects,
            n_relations,
            layout=layout,
            codebook=codebook,
            memory=memory,
            hops=hops,
            steps=steps,
        )
    chosen = [d for d in dims if d >= low]
    if not chosen:
        raise ValueError(
            f"dims (--dims): no d in {list(dims)} can be assembled for N={n_subjects}, "
            f"R={n_relations}; the smallest is {low}"
        )
    return chosen


def table_cells(
    subjects: Iterable[int],
    relations: Iterable[int],
    dims: Sequence[int] | None,
    ratios: Iterable[float] | None,
    layout: str,
    codebook: str,
    memories: Sequence[str],
    hops: Sequence[int],
    passes: Sequence[str] = PASSES,
) -> list[tuple[str, int, int, int, int, int]]:
    """The cells of :func:`transition_table`, ``(memory, H, L, N, R, d)``: every memory, and for
    ``"multi_hop"`` every H by chain of thought (L = H) and in a single pass (L = 1), as
    ``passes`` asks.

    Parameters
    ----------
    subjects, relations : iterable of int
        The N's and R's.
    dims : sequence of int, optional
        The d's asked for (:func:`table_dims`).
    ratios : iterable of float, optional
        The d's as multiples of R·log2 N.
    memories : sequence of str
        The memories measured.
    hops : sequence of int
        The H's of ``"multi_hop"``.
    passes : sequence of {"chain", "single"}
        By chain of thought (L = H), in a single pass (L = 1).

    Examples
    --------
    >>> cells = table_cells([256], [2], None, None, "superposed", "gaussian", ["multi_hop"], [2])
    >>> sorted({cell[:3] for cell in cells})
    [('multi_hop', 2, 1), ('multi_hop', 2, 2)]
    """
    chosen = [require_choice("passes", name, PASSES) for name in passes]
    settings = [
        (memory, h, steps)
        for memory in (require_choice("memory", memory, MEMORIES) for memory in memories)
        for h in (hops if memory == "multi_hop" else (1,))
        for steps in sorted(
            {h if name == "chain" else 1 for name in chosen} if memory == "multi_hop" else {1},
            reverse=True,
        )
    ]
    ratio_list = None if ratios is None else list(ratios)
    return [
        (memory, h, steps, n, r, d)
        for memory, h, steps in settings
        for n in subjects
        for r in relations
        for d in table_dims(
            n,
            r,
            dims,
            ratio_list,
            layout=layout,
            codebook=codebook,
            memory=memory,
            hops=h,
            steps=steps,
        )
    ]
