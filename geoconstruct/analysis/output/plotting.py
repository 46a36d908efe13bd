"""Figures (optional: needs matplotlib, ``pip install 'geoconstruct[plot]'``).

:func:`plot_dimension_table` draws, on one log–log figure, the measured minimum ``d_s`` against N
for each (R, codebook, precision), beside the per-subject and the global lower bounds. matplotlib
is imported only when a figure is drawn, so the rest of the library never needs it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from geoconstruct.analysis.measurement.capacity import DimensionRow
from geoconstruct.analysis.measurement.tradeoff import TradeoffRow
from geoconstruct.analysis.measurement.transition import TransitionRow
from geoconstruct.analysis.theory.bounds import global_min_params

__all__ = [
    "plot_dimension_table",
    "plot_memory_parameters",
    "plot_tradeoff_table",
    "plot_transition_table",
    "require_matplotlib",
]


def require_matplotlib() -> None:
    """Raise ``ImportError`` naming the extra to install, unless matplotlib can be imported."""
    _pyplot()


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as error:  # pragma: no cover - exercised by the extra's absence
        raise ImportError("plotting needs matplotlib: pip install 'geoconstruct[plot]'") from error
    return plt


def _save(plt: Any, figure: Any, path: str | Path) -> Path:
    """Lay out, write at 120 dpi, and close the figure."""
    figure.tight_layout()
    target = Path(path)
    figure.savefig(target, dpi=120)
    plt.close(figure)
    return target


def plot_dimension_table(rows: Sequence[DimensionRow], path: str | Path) -> Path:
    """Draw measured ``d_s``, the construction's ``d_s`` and both bounds against N; save to path.

    Parameters
    ----------
    rows : sequence of DimensionRow
        The rows of :func:`~geoconstruct.analysis.measurement.capacity.dimension_table`.
    path : str or Path
        The image file to write (its suffix picks the format).

    Raises
    ------
    ImportError
        If matplotlib is not installed, saying which extra installs it.
    """
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(9.5, 4.8))
    relations = sorted({row.n_relations for row in rows})
    colours = {n_relations: f"C{index}" for index, n_relations in enumerate(relations)}
    markers = {"grid": "o", "gaussian": "s", "rademacher": "^", "bch": "D"}
    # measured d_s: one line per (R, codebook, d_s profile); formats with equal d_s share it
    series: dict[tuple[int, str], dict[tuple[int, ...], list[str]]] = {}
    points: dict[tuple[int, str, tuple[int, ...]], list[DimensionRow]] = {}
    for row in rows:
        if row.d_s is None:
            continue
        key = (row.n_relations, row.codebook)
        profile = tuple(
            other.d_s or 0
            for other in rows
            if (other.n_relations, other.codebook, other.precision)
            == (row.n_relations, row.codebook, row.precision)
        )
        formats = series.setdefault(key, {}).setdefault(profile, [])
        if row.precision not in formats:
            formats.append(row.precision)
        points.setdefault((*key, profile), []).append(row)
    for (n_relations, codebook), profiles in sorted(series.items()):
        for profile, formats in profiles.items():
            measured = sorted(
                {row.n_subjects: row for row in points[(n_relations, codebook, profile)]}.values(),
                key=lambda row: row.n_subjects,
            )
            axes.plot(
                [row.n_subjects for row in measured],
                [row.d_s or 0 for row in measured],
                color=colours[n_relations],
                marker=markers.get(codebook, "x"),
                label=f"measured, R={n_relations}, {codebook} ({', '.join(formats)})",
            )
    # lower bounds on d_s at p bits: per subject (dashed), global (dotted)
    bounds: dict[tuple[int, int], dict[int, DimensionRow]] = {}
    for row in rows:
        bounds.setdefault((row.n_relations, row.bits), {})[row.n_subjects] = row
    for (n_relations, bits), by_size in sorted(bounds.items()):
        ordered = [by_size[n] for n in sorted(by_size)]
        xs = [row.n_subjects for row in ordered]
        axes.plot(
            xs,
            [row.per_subject_bound_d for row in ordered],
            linestyle="--",
            color=colours[n_relations],
            alpha=0.7,
            label=f"per-subject bound, R={n_relations}, p={bits}",
        )
        axes.plot(
            xs,
            [max(row.global_bound_d, 1) for row in ordered],
            linestyle=":",
            color=colours[n_relations],
            alpha=0.7,
            label=f"global bound, R={n_relations}, p={bits}",
        )
    axes.set_xscale("log", base=2)
    axes.set_yscale("log", base=2)
    axes.set_xlabel("N (subjects)")
    axes.set_ylabel("d_s (fact-dependent dimension)")
    axes.set_title("Measured dimension beside the lower bounds")
    axes.legend(fontsize=6, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return _save(plt, figure, path)


def plot_tradeoff_table(rows: Sequence[TradeoffRow], path: str | Path) -> Path:
    """Draw ``d_s`` and the per-pass lower bound against hops per pass g (log y); save to path.

    Every (H, L) row with the same g has the same ``d_s``: the trade-off is one curve, exponential
    in g, and full chain-of-thought (g = 1) is its constant floor.

    Parameters
    ----------
    rows : sequence of TradeoffRow
        The rows of :func:`~geoconstruct.analysis.measurement.tradeoff.tradeoff_table`.
    path : str or Path
        The image file to write (its suffix picks the format).

    Raises
    ------
    ImportError
        If matplotlib is not installed, saying which extra installs it.
    """
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(7.5, 4.5))
    settings = sorted({(row.n_relations, row.codebook, row.bits) for row in rows})
    for index, (n_relations, codebook, bits) in enumerate(settings):
        by_g = {
            row.hops_per_pass: row
            for row in rows
            if (row.n_relations, row.codebook, row.bits) == (n_relations, codebook, bits)
        }
        ordered = [by_g[g] for g in sorted(by_g)]
        xs = [row.hops_per_pass for row in ordered]
        label = f"R={n_relations}, {codebook}, p={bits}"
        axes.plot(
            xs, [row.d_s for row in ordered], marker="o", color=f"C{index}", label=f"d_s, {label}"
        )
        axes.plot(
            xs,
            [row.per_pass_bound_d_s for row in ordered],
            linestyle="--",
            color=f"C{index}",
            alpha=0.7,
            label=f"per-pass lower bound, {label}",
        )
    axes.set_yscale("log", base=2)
    axes.set_xticks(sorted({row.hops_per_pass for row in rows}))
    axes.set_xlabel("hops per forward pass g = ⌈H/L⌉")
    axes.set_ylabel("d_s (entity dimension)")
    n_entities = rows[0].n_entities if rows else 0
    axes.set_title(f"Capacity-depth trade-off, N={n_entities:,}")
    axes.legend(fontsize=7)
    return _save(plt, figure, path)


def plot_transition_table(rows: Sequence[TransitionRow], path: str | Path) -> Path:
    """Draw P(every fact) against d and the law's d_50 and d_95 against N; save to ``path``.

    Left: the share of seeds that recall every fact against ``d / (R·log2 N)``, with its exact
    95 % interval, one colour per (memory, N) and one marker per R; the fitted law through it
    (solid) and the prediction's own ``P(every fact)`` (dashed), the proved dimension dotted.
    Right: the fitted ``d_50`` (circles, with its 95 % interval) and ``d_95`` (squares) against
    ``log2 N``, one colour per R, beside the prediction's (``x`` and ``+``), ``R·log2 N``
    (dashed) and the proved d (dotted).

    Parameters
    ----------
    rows : sequence of TransitionRow
        The rows of :func:`~geoconstruct.analysis.measurement.transition.transition_table`.
    path : str or Path
        The image file to write (its suffix picks the format).

    Raises
    ------
    ImportError
        If matplotlib is not installed, saying which extra installs it.
    """
    plt = _pyplot()
    figure, (law_axes, dimension_axes) = plt.subplots(1, 2, figsize=(15, 5.5))
    sizes = sorted({(row.memory, row.n_subjects, row.n_relations) for row in rows})
    shades = sorted({size[:2] for size in sizes})  # a colour for each (memory, N)
    relations = sorted({size[2] for size in sizes})  # a marker for each R
    for size in sizes:
        line = sorted(
            (row for row in rows if (row.memory, row.n_subjects, row.n_relations) == size),
            key=lambda row: row.d,
        )
        scale, colour = line[0].r_log2_n, f"C{shades.index(size[:2]) % 10}"
        marker = "os^Dv<>"[relations.index(size[2]) % 7]
        xs = [row.d / scale for row in line]
        shares = [row.p_every_fact for row in line]
        below = [share - row.p_low for share, row in zip(shares, line, strict=True)]
        above = [row.p_high - share for share, row in zip(shares, line, strict=True)]
        law_axes.errorbar(
            xs,
            shares,
            yerr=[below, above],
            fmt=marker,
            ms=4,
            color=colour,
            label=f"{size[0]}, N = {size[1]:,}, R = {size[2]}",
        )
        fitted = _fitted_law(line[0])
        if fitted is not None:
            dense = [line[0].d + (line[-1].d - line[0].d) * step / 120 for step in range(121)]
            law_axes.plot(
                [d / scale for d in dense], [fitted(d) for d in dense], "-", color=colour, lw=1
            )
        predicted = [row.predicted_p_every_fact for row in line]
        if all(value is not None for value in predicted):
            law_axes.plot(xs, predicted, "--", color=colour, lw=0.8)
        if line[0].proven_d is not None:
            law_axes.axvline(line[0].proven_d / scale, color=colour, linestyle=":", lw=0.8)
    law_axes.set_xlabel("d / (R·log2 N)   (solid: fitted law; dashed: prediction; dotted: proved)")
    law_axes.set_ylabel("P(every fact): share of seeds, exact 95 % interval")
    law_axes.set_ylim(-0.03, 1.03)
    law_axes.set_title("P(every fact recalled) against dimension")
    law_axes.legend(fontsize="x-small", ncol=2)
    for index, (memory, n_relations) in enumerate(
        sorted({(row.memory, row.n_relations) for row in rows})
    ):
        by_size = {
            row.n_subjects: row
            for row in rows
            if (row.memory, row.n_relations) == (memory, n_relations) and row.d50 is not None
        }
        if not by_size:
            continue
        line = [by_size[n] for n in sorted(by_size)]
        log2_n = [math.log2(row.n_subjects) for row in line]
        colour = f"C{index % 10}"
        for name, marker in (("d50", "o"), ("d95", "s")):
            values = [getattr(row, name) for row in line]
            lows = [getattr(row, f"{name}_low") for row in line]
            highs = [getattr(row, f"{name}_high") for row in line]
            errors = [
                [v - (lo if lo is not None else v) for v, lo in zip(values, lows, strict=True)],
                [(hi if hi is not None else v) - v for v, hi in zip(values, highs, strict=True)],
            ]
            dimension_axes.errorbar(
                log2_n,
                values,
                yerr=errors,
                fmt=marker + "-",
                ms=4,
                color=colour,
                label=f"{name[0]}_{name[1:]}, {memory}, R = {n_relations}",
            )
        for name, style, what in (
            ("predicted_d50", "x", "predicted d_50"),
            ("predicted_d95", "+", "predicted d_95"),
            ("r_log2_n", "--", "R·log2 N"),
            ("proven_d", ":", "proved"),
        ):
            points = [(x, getattr(row, name)) for x, row in zip(log2_n, line, strict=True)]
            points = [(x, y) for x, y in points if y is not None]
            if points:
                xs_, ys_ = zip(*points, strict=True)
                dimension_axes.plot(
                    xs_, ys_, style, color=colour, label=f"{what}, R = {n_relations}"
                )
    dimension_axes.set_yscale("log", base=2)
    dimension_axes.set_xlabel("log2 N")
    dimension_axes.set_ylabel("d (fitted law, 95 % intervals)")
    dimension_axes.set_title("d_50 and d_95 against log2 N")
    dimension_axes.legend(fontsize="x-small", ncol=3)
    figure.suptitle(
        f"{rows[0].codebook} codes, {rows[0].layout}: the phase transition" if rows else ""
    )
    return _save(plt, figure, path)


def plot_memory_parameters(
    rows: Sequence[TransitionRow], path: str | Path, *, bits: int = 32
) -> Path:
    """Draw the parameters per stored fact at ``d_50`` against N, log–log, for every memory.

    One colour per memory (and H, L), one marker per R: the measured points (the parameters at
    the fitted ``d_50``, interpolated between the measured d's), the prediction's (at the
    predicted ``d_50``, dashed), and the information-theoretic bound ``R·log2 N! / bits``
    parameters over the ``N·R`` facts (black). Multi-hop rows count the ``N·R`` facts their
    chains compose.

    Parameters
    ----------
    rows : sequence of TransitionRow
        The rows of :func:`~geoconstruct.analysis.measurement.transition.transition_table`.
    path : str or Path
        The image file to write (its suffix picks the format).
    bits : int
        Bits a parameter holds, for the bound (32: float32, the tables' dtype).
    """
    import numpy as np

    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(9, 5.5))
    lines = sorted({(row.memory, row.hops, row.steps, row.n_relations) for row in rows})
    kinds = sorted({line[:3] for line in lines})  # a colour for each memory (and H, L)
    relations = sorted({line[3] for line in lines})  # a marker for each R
    markers = "os^Dv<>"
    for memory, hops, steps, n_relations in lines:
        own = [
            row
            for row in rows
            if (row.memory, row.hops, row.steps, row.n_relations)
            == (memory, hops, steps, n_relations)
        ]
        label = memory + (f" H={hops} L={steps}" if memory == "multi_hop" else "")
        measured: list[tuple[int, float]] = []
        predicted: list[tuple[int, float]] = []
        for n in sorted({row.n_subjects for row in own}):
            at = sorted((row for row in own if row.n_subjects == n), key=lambda row: row.d)
            ds = [row.d for row in at]
            counts = [row.parameters or 0 for row in at]
            facts = n * n_relations
            for value, target in ((at[0].d50, measured), (at[0].predicted_d50, predicted)):
                if value is not None and ds[0] <= value <= ds[-1]:
                    target.append((n, float(np.interp(value, ds, counts)) / facts))
        colour = f"C{kinds.index((memory, hops, steps)) % 10}"
        marker = markers[relations.index(n_relations) % len(markers)]
        if measured:
            xs, ys = zip(*measured, strict=True)
            axes.plot(xs, ys, marker + "-", color=colour, label=f"{label}, R = {n_relations}")
        if predicted:
            xs, ys = zip(*predicted, strict=True)
            axes.plot(xs, ys, "--", color=colour, lw=0.8)
    sizes = sorted({(row.n_subjects, row.n_relations) for row in rows})
    for index, n_relations in enumerate(relations):
        ns = [n for n, r in sizes if r == n_relations]
        bound = [global_min_params(n, n_relations, bits) / (n * n_relations) for n in ns]
        style = (":", "-.", (0, (1, 3)), (0, (5, 5)))[index % 4]
        label = f"bound at {bits} bits, R = {n_relations}"
        axes.plot(ns, bound, color="k", linestyle=style, lw=1, label=label)
    axes.set_xscale("log", base=2)
    axes.set_yscale("log")
    axes.set_xlabel("N (subjects)")
    axes.set_ylabel("parameters per fact at d_50 (dashed: predicted)")
    axes.set_title("What each memory pays per fact")
    axes.legend(fontsize="x-small", loc="center left", bbox_to_anchor=(1.01, 0.5))
    return _save(plt, figure, path)


def _fitted_law(row: TransitionRow) -> Callable[[float], float] | None:
    """The (N, R)'s fitted ``P(d) = exp(-e^(a - b·d))``, from its d_50 and d_95."""
    if row.d50 is None or row.d95 is None or row.d95 <= row.d50:
        return None
    level50, level95 = math.log(math.log(2)), math.log(-math.log(0.95))
    slope = (level50 - level95) / (row.d95 - row.d50)
    intercept = level50 + slope * row.d50

    def law(d: float) -> float:
        return math.exp(-math.exp(min(intercept - slope * d, 700.0)))

    return law
