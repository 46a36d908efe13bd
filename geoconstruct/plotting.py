"""Figures (optional: needs matplotlib, ``pip install 'geoconstruct[plot]'``).

:func:`plot_dimension_table` draws, on one log–log figure, the measured minimum ``d_s`` against N
for each (R, codebook, precision), beside the per-subject and the global lower bounds. matplotlib
is imported only when a figure is drawn, so the rest of the library never needs it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from geoconstruct.capacity import DimensionRow

__all__ = ["plot_dimension_table"]


def plot_dimension_table(rows: Sequence[DimensionRow], path: str | Path) -> Path:
    """Draw measured ``d_s``, the construction's ``d_s`` and both bounds against N; save to path.

    Raises
    ------
    ImportError
        If matplotlib is not installed, saying which extra installs it.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as error:  # pragma: no cover - exercised by the extra's absence
        raise ImportError("plotting needs matplotlib: pip install 'geoconstruct[plot]'") from error

    figure, axes = plt.subplots(figsize=(7, 4.5))
    series: dict[tuple[Any, ...], list[DimensionRow]] = {}
    for row in rows:
        if row.d_s is not None:
            series.setdefault((row.n_relations, row.codebook, row.precision), []).append(row)
    for (n_relations, codebook, precision), points in sorted(series.items()):
        points.sort(key=lambda row: row.n_subjects)
        xs = [row.n_subjects for row in points]
        axes.plot(
            xs,
            [row.d_s or 0 for row in points],  # only rows with a measured d_s are in `series`
            marker="o",
            label=f"measured d_s, R={n_relations}, {codebook}, {precision}",
        )
    bounds: dict[tuple[int, int], list[DimensionRow]] = {}
    for row in rows:
        bounds.setdefault((row.n_relations, row.bits), []).append(row)
    for (n_relations, bits), points in sorted(bounds.items()):
        unique = sorted(
            {row.n_subjects: row for row in points}.values(), key=lambda r: r.n_subjects
        )
        xs = [row.n_subjects for row in unique]
        axes.plot(
            xs,
            [row.per_subject_bound_d for row in unique],
            linestyle="--",
            label=f"per-subject bound, R={n_relations}, p={bits}",
        )
        axes.plot(
            xs,
            [max(row.global_bound_d, 1) for row in unique],
            linestyle=":",
            label=f"global bound, R={n_relations}, p={bits}",
        )
    axes.set_xscale("log", base=2)
    axes.set_yscale("log", base=2)
    axes.set_xlabel("N (subjects)")
    axes.set_ylabel("d_s (fact-dependent dimension)")
    axes.set_title("Measured dimension beside the lower bounds")
    axes.legend(fontsize=6, ncol=2)
    figure.tight_layout()
    out = Path(path)
    figure.savefig(out, dpi=120)
    plt.close(figure)
    return out
