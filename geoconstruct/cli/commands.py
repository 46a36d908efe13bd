"""The ``geoconstruct`` command.

``geoconstruct construct``
    Build one construction, run the forward pass on every fact, print its report.
``geoconstruct dimension``
    Print the smallest ``d`` a construction accepts.
``geoconstruct bounds``
    The information-theoretic lower bounds beside the dimension each construction uses.
``geoconstruct multihop``
    Build a multi-hop construction, run the chain-of-thought loop on every query (or a sample),
    print its report beside the per-pass lower bound.
``geoconstruct table dimension|capacity|tradeoff``
    Measured minimum dimension (or capacity, or the multi-hop capacity–depth trade-off) beside
    the construction's formula and the lower bounds, as Markdown, CSV, JSON or LaTeX; ``--plot``
    draws it (optional matplotlib).
``geoconstruct transfer``
    Re-initialise only the subject embeddings for new facts (with the known read maps, and fitted
    from weights alone) and show that the new facts are recalled through the unchanged MLP.
``geoconstruct table baselines``
    The geometric construction beside the associative-memory baselines: parameters, recall,
    transfer.
``geoconstruct bench``
    Construction, certified and exact recall timed beside same-run references (see
    :mod:`geoconstruct.analysis.bench`).
``geoconstruct demo``
    The README's main job: a 10,000 × 8 construction with its recall report, then a small table
    of dimensions and recall across sizes, layouts and codebooks.

Errors in the arguments print one line to stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from types import MappingProxyType
from typing import Any, TextIO

import numpy as np
from tqdm import tqdm

from geoconstruct import __version__
from geoconstruct._validation import DEFAULT_MEMORY_BUDGET
from geoconstruct.analysis.bench import EXACT_WORK_LIMIT, bench_size
from geoconstruct.analysis.bounds import (
    global_bits,
    global_min_params,
    packing_min_code_length,
    per_pass_bits,
    per_pass_min_dimension,
    per_subject_bits,
    per_subject_min_dimension,
    subject_dimension,
)
from geoconstruct.analysis.capacity import (
    TABLE_FORMATS,
    DimensionRow,
    TradeoffRow,
    capacity_table,
    dimension_table,
    render_table,
    tradeoff_table,
)
from geoconstruct.analysis.comparison import baselines_table
from geoconstruct.analysis.plotting import plot_dimension_table, plot_tradeoff_table
from geoconstruct.analysis.precision import (
    numeric_format,
    quantize_construction,
    storage_efficiency,
)
from geoconstruct.analysis.transfer import fit_superposition, reinitialize, reinitialize_weights
from geoconstruct.codes.codebooks import (
    CODEBOOK_NAMES,
    BCHCodes,
    CodebookFamily,
    GaussianCodes,
    GridCodes,
    RademacherCodes,
    resolve_codebook,
)
from geoconstruct.constructions.multi_hop import (
    MAX_EXHAUSTIVE_QUERIES,
    chain_count,
    construct_multi_hop,
    multi_hop_dimension,
)
from geoconstruct.constructions.single_hop import (
    LAYOUTS,
    RECALL_METHODS,
    construct_single_hop,
    required_dimension,
)
from geoconstruct.facts import random_facts
from geoconstruct.model.transformer import DTYPES

__all__ = ["bench_table_header", "bench_table_row", "main"]

DEMO_SIZES = (256, 1024, 4096)
DEMO_RELATIONS = 4
DEMO_SETTINGS = (
    ("block", "grid"),
    ("block", "gaussian"),
    ("block", "rademacher"),
    ("superposed", "gaussian"),
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        status: int = args.handler(args)
    except (TypeError, ValueError, MemoryError) as error:
        print(f"geoconstruct {args.command}: error: {error}", file=sys.stderr)
        return 2
    return status


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="geoconstruct",
        description="Closed-form transformer weights that memorise facts geometrically.",
    )
    parser.add_argument("--version", action="version", version=f"geoconstruct {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    construct = commands.add_parser(
        "construct", help="build a single-hop construction and check every fact"
    )
    _add_size_arguments(construct)
    construct.add_argument(
        "--dim", type=int, default=None, help="d_model (default: the smallest that works)"
    )
    construct.add_argument("--seed", type=int, default=0)
    construct.add_argument("--dtype", choices=DTYPES, default="float64")
    construct.add_argument(
        "--memory-budget",
        type=_bytes,
        default=DEFAULT_MEMORY_BUDGET,
        help="bytes construction and recall may each allocate, e.g. 512M or 8G (default 8G)",
    )
    construct.add_argument(
        "--method",
        choices=RECALL_METHODS,
        default="exact",
        help="exact: the forward pass on every prompt; certified: a proof per fact, the forward "
        "pass only where the proof is inconclusive (default exact)",
    )
    construct.add_argument(
        "--precision",
        default=None,
        help="round the fact-dependent parameters to this format (float64, float32, float16, "
        "bfloat16, intP) before recall, and report the storage efficiency (default: the dtype)",
    )
    construct.add_argument("--json", action="store_true", help="print one JSON object")
    construct.set_defaults(handler=_construct)

    dimension = commands.add_parser("dimension", help="print the smallest d that works")
    _add_size_arguments(dimension)
    dimension.set_defaults(handler=_dimension)

    bounds = commands.add_parser(
        "bounds", help="lower bounds beside the dimension each construction uses"
    )
    bounds.add_argument("--subjects", type=int, required=True, help="N, the number of subjects")
    bounds.add_argument("--relations", type=int, required=True, help="R, the number of relations")
    bounds.add_argument("--bits", type=int, default=8, help="p, bits per parameter (default 8)")
    bounds.add_argument("--json", action="store_true", help="print one JSON object")
    bounds.set_defaults(handler=_bounds)

    multihop = commands.add_parser(
        "multihop", help="build a multi-hop construction and check every query by chain of thought"
    )
    multihop.add_argument("--entities", type=int, required=True, help="N, the number of entities")
    multihop.add_argument("--relations", type=int, required=True, help="R, the number of relations")
    multihop.add_argument("--hops", type=int, required=True, help="H, relations in a query")
    multihop.add_argument(
        "--steps", type=int, required=True, help="L in 1..H: forward passes, chain-of-thought steps"
    )
    multihop.add_argument(
        "--dim", type=int, default=None, help="d_model (default: the smallest that works)"
    )
    multihop.add_argument("--codebook", choices=CODEBOOK_NAMES, default="grid")
    multihop.add_argument(
        "--bits", type=int, default=8, help="bits per coordinate of grid codes (default 8)"
    )
    multihop.add_argument("--max-coherence", type=float, default=None, help="unit codes' μ")
    multihop.add_argument("--seed", type=int, default=0)
    multihop.add_argument("--dtype", choices=DTYPES, default="float64")
    multihop.add_argument(
        "--max-queries",
        type=int,
        default=MAX_EXHAUSTIVE_QUERIES,
        help="check every query up to this many, else a seeded sample (default 1e7)",
    )
    multihop.add_argument("--sample-size", type=int, default=100_000, help="(default 100,000)")
    multihop.add_argument(
        "--memory-budget", type=_bytes, default=DEFAULT_MEMORY_BUDGET, help="(default 8G)"
    )
    multihop.add_argument("--json", action="store_true", help="print one JSON object")
    multihop.set_defaults(handler=_multihop, layout="block")

    table = commands.add_parser(
        "table", help="measured dimension, capacity or depth trade-off beside the bounds"
    )
    table.add_argument("kind", choices=["dimension", "capacity", "tradeoff", "baselines"])
    table.add_argument("--subjects", type=_int_list, default=[256, 4096], help="N list (dimension)")
    table.add_argument("--dims", type=_int_list, default=[14, 26], help="d list (capacity)")
    table.add_argument("--entities", type=int, default=4096, help="N (tradeoff)")
    table.add_argument("--hops", type=_int_list, default=[1, 2, 3, 4], help="H list (tradeoff)")
    table.add_argument(
        "--sample-size",
        type=int,
        default=None,
        help="queries checked per row (tradeoff: 10,000; baselines: 2,000)",
    )
    table.add_argument("--relations", type=_int_list, default=[1, 4], help="R list")
    table.add_argument("--codebook", type=_name_list, default=["grid"], help="codebook list")
    table.add_argument("--precision", type=_name_list, default=["float32"], help="format list")
    table.add_argument("--layout", choices=LAYOUTS, default="block")
    table.add_argument("--seeds", type=_int_list, default=[0], help="seed list")
    table.add_argument("--max-subjects", type=int, default=2**20, help="capacity search limit")
    table.add_argument("--format", choices=TABLE_FORMATS, default="md")
    table.add_argument("--workers", type=int, default=None, help="processes (default: cores)")
    table.add_argument(
        "--memory-budget", type=_bytes, default=DEFAULT_MEMORY_BUDGET, help="per cell (8G)"
    )
    table.add_argument("--plot", default=None, help="also draw the table to this .png")
    table.add_argument(
        "--save", default=None, help="also write PREFIX.md, .csv, .json and .tex (one run)"
    )
    table.set_defaults(handler=_table)

    transfer = commands.add_parser(
        "transfer", help="new facts through the same MLP: re-initialise subject embeddings only"
    )
    _add_size_arguments(transfer)
    transfer.add_argument("--seed", type=int, default=0)
    transfer.add_argument("--new-seed", type=int, default=1, help="seed of the new facts")
    transfer.set_defaults(handler=_transfer)

    bench = commands.add_parser(
        "bench", help="time construction, certified and exact recall beside references"
    )
    bench.add_argument("--subjects", type=_int_list, default=[1000, 10_000], help="N list")
    bench.add_argument("--relations", type=_int_list, default=[4, 16], help="R list")
    bench.add_argument("--repeats", type=int, default=1, help="best of this many runs")
    bench.add_argument(
        "--exact-limit",
        type=int,
        default=EXACT_WORK_LIMIT,
        help=f"run exact recall only up to N·R·d_vocab logits (default {EXACT_WORK_LIMIT:.0e})",
    )
    bench.add_argument("--json", action="store_true", help="print a JSON list of rows")
    bench.set_defaults(handler=_bench)

    demo = commands.add_parser("demo", help="the README's main job")
    demo.add_argument("--subjects", type=int, default=10_000)
    demo.add_argument("--relations", type=int, default=8)
    demo.set_defaults(handler=_demo)
    return parser


def _bytes(text: str) -> int:
    """``"4096"``, ``"512M"``, ``"8G"`` -> bytes (K, M, G, T are powers of 1024)."""
    units = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
    scale = units.get(text[-1:].upper(), 1)
    number = text[:-1] if scale > 1 else text
    try:
        value = float(number) * scale
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a byte count: {text!r}") from None
    if not value >= 1:
        raise argparse.ArgumentTypeError(f"not a positive byte count: {text!r}")
    return int(value)


def _int_list(text: str) -> list[int]:
    """``"1000,10000"`` -> ``[1000, 10000]``."""
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a comma-separated list of integers: {text!r}"
        ) from None
    if not values:
        raise argparse.ArgumentTypeError(f"empty list: {text!r}")
    return values


def _name_list(text: str) -> list[str]:
    """``"grid,gaussian"`` -> ``["grid", "gaussian"]``."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"empty list: {text!r}")
    return names


def _add_size_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--subjects", type=int, required=True, help="N, the number of subjects")
    parser.add_argument("--relations", type=int, required=True, help="R, the number of relations")
    parser.add_argument("--layout", choices=LAYOUTS, default="block")
    parser.add_argument("--codebook", choices=CODEBOOK_NAMES, default="grid")
    parser.add_argument(
        "--bits", type=int, default=8, help="bits per coordinate of grid codes (default 8)"
    )
    parser.add_argument(
        "--max-coherence",
        type=float,
        default=None,
        help="unit codes (gaussian, rademacher, bch): the coherence bound μ, guaranteed margin "
        "1 - μ (default 0.5)",
    )


def _family(args: argparse.Namespace) -> CodebookFamily:
    if args.codebook == "grid":
        if args.max_coherence is not None:
            raise ValueError("--max-coherence applies to unit codes, not to grid codes")
        return GridCodes(bits=args.bits)
    family = resolve_codebook(args.codebook)
    if args.max_coherence is None:
        return family
    if args.codebook == "gaussian":
        return GaussianCodes(max_coherence=args.max_coherence)
    if args.codebook == "rademacher":
        return RademacherCodes(max_coherence=args.max_coherence)
    return BCHCodes(max_coherence=args.max_coherence)


def _dimension(args: argparse.Namespace) -> int:
    print(
        required_dimension(
            args.subjects, args.relations, layout=args.layout, codebook=_family(args)
        )
    )
    return 0


def _bounds(args: argparse.Namespace) -> int:
    n_subjects, n_relations, bits = args.subjects, args.relations, args.bits
    summary: dict[str, Any] = {
        "n_subjects": n_subjects,
        "n_relations": n_relations,
        "bits": bits,
        "global_bits": global_bits(n_subjects, n_relations),
        "global_min_params": global_min_params(n_subjects, n_relations, bits),
        "per_subject_bits": per_subject_bits(n_subjects, n_relations),
        "per_subject_min_d_s": per_subject_min_dimension(n_subjects, n_relations, bits),
        "packing_min_k": packing_min_code_length(n_subjects, 0.5) if n_subjects > 1 else 1,
        "constructions": [
            {
                "layout": layout,
                "codebook": family.name,
                "d_s": subject_dimension(n_subjects, n_relations, layout=layout, codebook=family),
                "d": required_dimension(n_subjects, n_relations, layout=layout, codebook=family),
            }
            for layout, family in (
                ("block", GridCodes(bits=bits)),
                ("block", resolve_codebook("gaussian")),
                ("block", resolve_codebook("bch")),
                ("superposed", resolve_codebook("gaussian")),
                ("superposed", BCHCodes(max_coherence=0.875)),
            )
        ],
    }
    if args.json:
        print(json.dumps(summary))
        return 0
    lines = [
        f"N={n_subjects} subjects, R={n_relations} relations, p={bits} bits a parameter",
        f"global bound        R·log2 N! = {summary['global_bits']:,.1f} bits "
        f"-> at least {summary['global_min_params']:,} parameters",
        f"per-subject bound   R·log2 N = {summary['per_subject_bits']:.2f} bits "
        f"-> d_s >= {summary['per_subject_min_d_s']} (fact-independent read-out)",
        f"packing bound       unit codes with coherence <= 1/2 need k >= "
        f"{summary['packing_min_k']} (spherical caps)",
        "",
        "| layout | codebook | d_s | d_s / per-subject bound | d |",
        "|---|---|---|---|---|",
    ]
    for row in summary["constructions"]:
        ratio = row["d_s"] / max(summary["per_subject_min_d_s"], 1)
        lines.append(
            f"| {row['layout']} | {row['codebook']} | {row['d_s']} | {ratio:.2f} | {row['d']} |"
        )
    lines.append(
        "(unit-code rows store real numbers; the bound at p bits applies to grid codes; "
        "block rows use coherence <= 1/2, the superposed bch row 0.875)"
    )
    print("\n".join(lines))
    return 0


def _construct(args: argparse.Namespace) -> int:
    summary = _build_and_recall(
        args.subjects,
        args.relations,
        args.dim,
        layout=args.layout,
        codebook=_family(args),
        seed=args.seed,
        dtype=args.dtype,
        show_progress=not args.json,
        memory_budget=args.memory_budget,
        method=args.method,
        precision=args.precision,
    )
    if args.json:
        print(json.dumps(summary))
    else:
        _print_summary(summary, sys.stdout)
    return 0 if summary["n_correct"] == summary["n_facts"] else 1


BENCH_COLUMNS = (
    ("N", "n_subjects", "{:,}"),
    ("R", "n_relations", "{}"),
    ("layout", "layout", "{}"),
    ("codebook", "codebook", "{}"),
    ("dtype", "dtype", "{}"),
    ("d", "d_model", "{}"),
    ("facts", "n_facts", "{:,}"),
    ("construct s", "construct_seconds", "{:.2f}"),
    ("certified s", "certified_seconds", "{:.2f}"),
    ("certified facts/s", "certified_facts_per_second", "{:,.0f}"),
    ("fallback", "n_fallback", "{:,}"),
    ("table read s", "table_read_seconds", "{:.3f}"),
    ("certified / read", "certified_to_read_ratio", "{:.1f}"),
    ("exact s", "exact_seconds", "{:.2f}"),
    ("exact facts/s", "exact_facts_per_second", "{:,.0f}"),
    ("GEMM reference s", "reference_seconds", "{:.2f}"),
    ("exact / GEMM throughput", "exact_throughput_to_reference", "{:.2f}"),
    ("peak RSS MiB", "peak_rss_mib", "{:.0f}"),
)


def _table(args: argparse.Namespace) -> int:
    for name in args.codebook:
        resolve_codebook(name)  # fail on an unknown name before any work starts
    for name in args.precision:
        numeric_format(name)
    if args.kind == "tradeoff":
        return _tradeoff_table(args)
    if args.kind == "baselines":
        return _baselines_table(args)
    n_cells = len(args.relations) * len(args.codebook) * len(args.precision)
    n_cells *= len(args.subjects if args.kind == "dimension" else args.dims)
    start = time.perf_counter()
    with (
        ProcessPoolExecutor(args.workers) as pool,
        tqdm(total=n_cells, desc=f"{args.kind} table", unit="cell", leave=False) as bar,
    ):
        common: dict[str, Any] = {
            "codebooks": args.codebook,
            "precisions": args.precision,
            "layout": args.layout,
            "seeds": args.seeds,
            "executor": pool,
            "progress": bar.update,
            "memory_budget": args.memory_budget,
        }
        rows: list[Any]
        if args.kind == "dimension":
            rows = dimension_table(args.subjects, args.relations, **common)
        else:
            rows = capacity_table(
                args.dims, args.relations, max_subjects=args.max_subjects, **common
            )
    elapsed = f"{n_cells} cells in {time.perf_counter() - start:.1f} s"
    _print_and_save(rows, args, elapsed)
    if args.plot:
        if args.kind != "dimension":
            raise ValueError("--plot draws the dimension table")
        plot_dimension_table([row for row in rows if isinstance(row, DimensionRow)], args.plot)
    return 0 if all(row.error is None for row in rows) else 1


def _print_and_save(rows: Sequence[Any], args: argparse.Namespace, elapsed: str) -> None:
    """Print the table in ``--format``; with ``--save PREFIX`` write every format to files."""
    print(render_table(rows, args.format), end="")
    if args.format == "md":
        print(f"\n{elapsed}")
    if args.save:
        for fmt, suffix in (("md", "md"), ("csv", "csv"), ("json", "json"), ("latex", "tex")):
            text = render_table(rows, fmt) + (f"\n{elapsed}\n" if fmt == "md" else "")
            Path(f"{args.save}.{suffix}").write_text(text)


def _tradeoff_table(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    settings = [
        (relations, codebook, precision)
        for relations in args.relations
        for codebook in args.codebook
        for precision in args.precision
    ]
    n_rows = len(settings) * sum(args.hops)
    rows: list[TradeoffRow] = []
    with tqdm(total=n_rows, desc="tradeoff table", unit="row", leave=False) as bar:
        for relations, codebook, precision in settings:
            rows += tradeoff_table(
                args.entities,
                relations,
                args.hops,
                codebook=codebook,
                precision=precision,
                seed=args.seeds[0],
                sample_size=args.sample_size or 10_000,
                memory_budget=args.memory_budget,
                progress=bar.update,
            )
    elapsed = f"{len(rows)} rows in {time.perf_counter() - start:.1f} s"
    _print_and_save(rows, args, elapsed)
    if args.plot:
        plot_tradeoff_table(rows, args.plot)
    return 0 if all(row.recall_accuracy == 1.0 for row in rows) else 1


def _baselines_table(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    n_rows = len(args.subjects) * len(args.relations) * 3
    with tqdm(total=n_rows, desc="baselines table", unit="row", leave=False) as bar:
        rows = baselines_table(
            args.subjects,
            args.relations,
            seed=args.seeds[0],
            max_checked=args.sample_size or 2_000,
            memory_budget=args.memory_budget,
            progress=bar.update,
        )
    elapsed = f"{len(rows)} rows in {time.perf_counter() - start:.1f} s"
    _print_and_save(rows, args, elapsed)
    return 0 if all(row.error is not None or row.recall == 1.0 for row in rows) else 1


def _transfer(args: argparse.Namespace) -> int:
    n, n_relations = args.subjects, args.relations
    family = _family(args)
    d = required_dimension(n, n_relations, layout=args.layout, codebook=family)
    original = construct_single_hop(
        n, n_relations, d, layout=args.layout, codebook=family, seed=args.seed
    )
    new_facts = random_facts(n, n_relations, args.new_seed)
    before = original.recall()
    stale = dataclasses.replace(original, facts=new_facts).recall()  # old embeddings, new facts
    moved = reinitialize(original, new_facts)
    after = moved.recall()
    fit = fit_superposition(original.weights, original.facts)
    fitted_weights = reinitialize_weights(original.weights, fit, new_facts)
    fitted = dataclasses.replace(
        original, weights=MappingProxyType(fitted_weights), facts=new_facts
    ).recall()
    kept = [name for name in original.weights if name != "embed.W_E"]
    unchanged = all(
        _digest(moved.weights[name]) == _digest(original.weights[name])
        and _digest(fitted_weights[name]) == _digest(original.weights[name])
        for name in kept
    )
    lines = [
        f"transfer: N={n} subjects, R={n_relations} relations, layout={args.layout}, "
        f"codebook={family.name}, seed={args.seed}, new facts from seed {args.new_seed}",
        f"original facts recalled {before.n_correct:,} / {before.n_facts:,}",
        f"new facts, before       {stale.n_correct:,} / {stale.n_facts:,}  "
        "(the old embeddings still answer the old facts)",
        f"new facts recalled     {after.n_correct:,} / {after.n_facts:,}  "
        "after rewriting the subject embeddings with the known B_r",
        f"fitted from weights    R² = {fit.r2:.6f}; new facts recalled "
        f"{fitted.n_correct:,} / {fitted.n_facts:,}",
        ("unchanged bit for bit: attention, MLP, unembedding" if unchanged else "CHANGED: ")
        + f" ({len(kept)} arrays, SHA-256 compared)",
    ]
    print("\n".join(lines))
    return 0 if unchanged and after.all_correct and fitted.all_correct else 1


def _digest(array: Any) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def _multihop(args: argparse.Namespace) -> int:
    family = _family(args)
    n, n_relations, hops, steps = args.entities, args.relations, args.hops, args.steps
    minimum = multi_hop_dimension(n, n_relations, hops, steps, codebook=family)
    start = time.perf_counter()
    construction = construct_multi_hop(
        n,
        n_relations,
        hops,
        steps,
        minimum if args.dim is None else args.dim,
        codebook=family,
        seed=args.seed,
        dtype=args.dtype,
        memory_budget=args.memory_budget,
    )
    built = time.perf_counter()
    exhaustive = construction.total_queries <= args.max_queries
    report = construction.recall(
        sample=None if exhaustive else args.sample_size, memory_budget=args.memory_budget
    )
    finished = time.perf_counter()
    g = construction.metadata.hops_per_pass
    config, bound = construction.config, construction.metadata.attention_bound
    bits = family.bits if isinstance(family, GridCodes) else numeric_format(args.dtype).bits
    summary: dict[str, Any] = {
        "n_entities": n,
        "n_relations": n_relations,
        "hops": hops,
        "steps": steps,
        "hops_per_pass": g,
        "passes": len(report.pass_correct),
        "codebook": family.name,
        "seed": args.seed,
        "dtype": args.dtype,
        "d_model": config.d_model,
        "required_d": minimum,
        "chains_per_pass": chain_count(n_relations, g),
        "code_length": construction.codebook.code_length,
        "entity_dim": construction.residual.size("subject"),
        "residual_layout": construction.residual.as_dict(),
        "n_heads": config.n_heads,
        "d_head": config.d_head,
        "d_mlp": config.d_mlp,
        "d_vocab": config.d_vocab,
        "params_total": config.n_params(),
        "score_gap": bound.score_gap,
        "leakage_bound": bound.leakage_bound,
        "output_error_bound": bound.output_error_bound,
        "decoding_tolerance": bound.decoding_tolerance,
        "bits": bits,
        "per_pass_bits": per_pass_bits(n, n_relations, g),
        "per_pass_min_d_s": per_pass_min_dimension(n, n_relations, g, bits),
        "n_queries": report.n_queries,
        "total_queries": report.total_queries,
        "n_facts": report.n_facts,
        "sampled": report.sampled,
        "n_correct": report.n_correct,
        "accuracy": report.accuracy,
        "pass_correct": list(report.pass_correct),
        "min_margin": report.min_margin,
        "failures": [failure._asdict() for failure in report.failures],
        "construct_seconds": built - start,
        "recall_seconds": finished - built,
    }
    if args.json:
        print(json.dumps(summary))
    else:
        _print_multihop(summary, sys.stdout)
    return 0 if report.all_correct else 1


def _print_multihop(summary: dict[str, Any], out: TextIO) -> None:
    checked = (
        f"a seeded sample of {summary['n_queries']:,} of {summary['total_queries']:,} queries"
        if summary["sampled"]
        else f"all {summary['total_queries']:,} queries"
    )
    per_pass = ", ".join(f"{count:,}" for count in summary["pass_correct"])
    lines = [
        f"multi hop: N={summary['n_entities']} entities, R={summary['n_relations']} relations, "
        f"H={summary['hops']} hops in L={summary['steps']} steps "
        f"(g={summary['hops_per_pass']} hops a pass, {summary['passes']} "
        f"pass{'es' if summary['passes'] != 1 else ''}), "
        f"codebook={summary['codebook']}, seed={summary['seed']}, {summary['dtype']}",
        f"d_model          {summary['d_model']}  (smallest that works: {summary['required_d']})",
        f"entity d_s       {summary['entity_dim']} = {summary['chains_per_pass']} chains x "
        f"k={summary['code_length']}",
        f"per-pass bound   d_s >= {summary['per_pass_min_d_s']} at p={summary['bits']} bits "
        f"({summary['per_pass_bits']:,.1f} bits; ratio "
        f"{summary['entity_dim'] / summary['per_pass_min_d_s']:.3f})",
        f"heads            {summary['n_heads']} x d_head {summary['d_head']}, score gap "
        f"{summary['score_gap']:g}: leakage <= {summary['leakage_bound']:.3g}, output error <= "
        f"{summary['output_error_bound']:.3g} "
        f"(decoding tolerance {summary['decoding_tolerance']:g})",
        f"d_mlp            {summary['d_mlp']}",
        f"parameters       {summary['params_total']:,} total",
        f"recall           {summary['n_correct']:,} / {summary['n_queries']:,} "
        f"(accuracy {summary['accuracy']:.6f}) over {checked}",
        f"right per pass   {per_pass}",
        f"min margin       {summary['min_margin']:.6g}",
        f"wall time        construct {summary['construct_seconds']:.2f} s, "
        f"recall {summary['recall_seconds']:.2f} s",
    ]
    lines += [
        f"  failed: entity {failure['entity']}, chain {failure['chain']}: expected "
        f"{failure['expected']}, predicted {failure['predicted']} "
        f"(first wrong at pass {failure['first_wrong_pass']})"
        for failure in summary["failures"]
    ]
    print("\n".join(lines), file=out)


def bench_table_header() -> list[str]:
    """The two header lines of the bench's Markdown table."""
    return [
        "| " + " | ".join(title for title, _, _ in BENCH_COLUMNS) + " |",
        "|---" * len(BENCH_COLUMNS) + "|",
    ]


def bench_table_row(row: dict[str, Any]) -> str:
    """One bench row (:meth:`BenchRow.as_dict`) as a Markdown table line."""
    cells = ["—" if row[key] is None else form.format(row[key]) for _, key, form in BENCH_COLUMNS]
    return "| " + " | ".join(cells) + " |"


def _bench(args: argparse.Namespace) -> int:
    rows = []
    if not args.json:
        print("\n".join(bench_table_header()))
    for n_subjects in args.subjects:
        for n_relations in args.relations:
            row = bench_size(
                n_subjects, n_relations, repeats=args.repeats, exact_work_limit=args.exact_limit
            ).as_dict()
            rows.append(row)
            if not args.json:
                print(bench_table_row(row), flush=True)
    if args.json:
        print(json.dumps(rows, indent=2))
    recalled = all(
        row["n_certified_correct"] == row["n_facts"]
        and row["n_exact_correct"] in (None, row["n_facts"])
        for row in rows
    )
    return 0 if recalled else 1


def _demo(args: argparse.Namespace) -> int:
    out = sys.stdout
    summary = _build_and_recall(
        args.subjects,
        args.relations,
        None,
        layout="block",
        codebook=GridCodes(),
        seed=0,
        dtype="float64",
        show_progress=True,
    )
    _print_summary(summary, out)
    print(
        f"\nSmallest d and exact recall, R = {DEMO_RELATIONS}, seed 0 "
        "(every fact checked by the forward pass):\n",
        file=out,
    )
    header = (
        "| N | layout | codebook | d | d_s | d_mlp | fact-dependent params | MLP params "
        "| recalled | min margin | seconds |"
    )
    print(header, file=out)
    print("|---" * (header.count("|") - 1) + "|", file=out)
    all_correct = summary["n_correct"] == summary["n_facts"]
    for n_subjects in DEMO_SIZES:
        for layout, codebook in DEMO_SETTINGS:
            row = _build_and_recall(
                n_subjects,
                DEMO_RELATIONS,
                None,
                layout=layout,
                codebook=resolve_codebook(codebook),
                seed=0,
                dtype="float64",
                show_progress=False,
            )
            all_correct &= row["n_correct"] == row["n_facts"]
            seconds = row["construct_seconds"] + row["recall_seconds"]
            print(
                f"| {n_subjects} | {layout} | {codebook} | {row['d_model']} | "
                f"{row['subject_dim']} | {row['d_mlp']} | {row['params_fact_dependent']} | "
                f"{row['params_mlp']} | {row['n_correct']}/{row['n_facts']} | "
                f"{row['min_margin']:.4f} | {seconds:.2f} |",
                file=out,
                flush=True,
            )
    return 0 if all_correct else 1


def _build_and_recall(
    n_subjects: int,
    n_relations: int,
    d: int | None,
    *,
    layout: str,
    codebook: CodebookFamily,
    seed: int,
    dtype: str,
    show_progress: bool,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    method: str = "exact",
    precision: str | None = None,
) -> dict[str, Any]:
    form = numeric_format(dtype if precision is None else precision)
    minimum = required_dimension(n_subjects, n_relations, layout=layout, codebook=codebook)
    start = time.perf_counter()
    construction = construct_single_hop(
        n_subjects,
        n_relations,
        minimum if d is None else d,
        layout=layout,
        codebook=codebook,
        seed=seed,
        dtype=dtype,
        memory_budget=memory_budget,
    )
    if precision is not None:
        construction = quantize_construction(construction, form)
    efficiency = storage_efficiency(construction, form)
    built = time.perf_counter()
    with tqdm(
        total=construction.facts.n_facts,
        desc="recall",
        unit="fact",
        disable=not show_progress or None,
        leave=False,
    ) as bar:
        report = construction.recall(
            method=method, progress=bar.update, memory_budget=memory_budget
        )
    finished = time.perf_counter()
    count = construction.parameter_count
    residual = construction.residual
    return {
        "n_subjects": n_subjects,
        "n_relations": n_relations,
        "layout": layout,
        "codebook": codebook.name,
        "codebook_parameters": {
            key: value for key, value in vars(codebook).items() if not key.startswith("_")
        },
        "seed": seed,
        "dtype": dtype,
        "d_model": construction.config.d_model,
        "required_d": minimum,
        "subject_dim": residual.size("subject"),
        "code_length": construction.codebook.code_length,
        "residual_layout": residual.as_dict(),
        "d_mlp": construction.config.d_mlp,
        "d_vocab": construction.config.d_vocab,
        "params_total": count.total,
        "params_fact_dependent": count.fact_dependent,
        "params_generic": count.generic,
        "params_mlp": count.mlp,
        "n_queries": report.n_queries,
        "n_facts": report.n_facts,
        "n_correct": report.n_correct,
        "accuracy": report.accuracy,
        "min_margin": report.min_margin,
        "method": report.method,
        "n_fallback": report.n_fallback,
        "precision": form.name,
        "storage_efficiency_per_subject": efficiency.per_subject,
        "storage_efficiency_global": efficiency.global_,
        "failures": [failure._asdict() for failure in report.failures],
        "construct_seconds": built - start,
        "recall_seconds": finished - built,
    }


def _print_summary(summary: dict[str, Any], out: TextIO) -> None:
    spans = summary["residual_layout"]
    widths = {name: stop - start for name, (start, stop) in spans.items()}
    lines = [
        f"single hop: N={summary['n_subjects']} subjects, R={summary['n_relations']} relations, "
        f"layout={summary['layout']}, codebook={summary['codebook']}, seed={summary['seed']}, "
        f"{summary['dtype']}",
        f"d_model          {summary['d_model']}  (smallest that works: {summary['required_d']}; "
        f"subject {widths['subject']}, relation {widths['relation']}, "
        f"output {widths['output']}, unused {widths['unused']})",
        f"d_mlp            {summary['d_mlp']}",
        f"d_vocab          {summary['d_vocab']}",
        f"parameters       {summary['params_total']:,} total",
        f"  fact-dependent {summary['params_fact_dependent']:,}  (subject embeddings, N x d_s)",
        f"  generic        {summary['params_generic']:,}  (of which MLP {summary['params_mlp']:,})",
        f"storage          {summary['precision']}: efficiency "
        f"{summary['storage_efficiency_per_subject']:.3f} of the per-subject bound, "
        f"{summary['storage_efficiency_global']:.3f} of the global bound",
        f"recall           {summary['n_correct']:,} / {summary['n_facts']:,} facts "
        f"(accuracy {summary['accuracy']:.6f})",
        f"min margin       {summary['min_margin']:.6g}"
        + (" (a certified lower bound)" if summary["method"] == "certified" else ""),
        f"method           {summary['method']}"
        + (
            f", {summary['n_fallback']:,} queries left to the forward pass"
            if summary["method"] == "certified"
            else ", the forward pass on every prompt"
        ),
        f"wall time        construct {summary['construct_seconds']:.2f} s, "
        f"recall {summary['recall_seconds']:.2f} s",
    ]
    for failure in summary["failures"]:
        lines.append(
            f"  failed: subject {failure['subject']}, relation {failure['relation']}: "
            f"expected {failure['expected']}, predicted {failure['predicted']}"
        )
    print("\n".join(lines), file=out)
