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
    :mod:`geoconstruct.analysis.measurement.bench`).
``geoconstruct demo``
    The README's main job: a construction of N = 10,000 subjects and R = 4 relations with its
    recall report, then a small table of dimensions and recall across sizes, layouts and
    codebooks.

Errors in the arguments print one line to stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from tqdm import tqdm

from geoconstruct._validation import InputTypeError, NoResultError, require_choice, require_int
from geoconstruct.analysis.measurement.bench import BenchRow, bench_size
from geoconstruct.analysis.measurement.capacity import (
    capacity_table,
    dimension_table,
)
from geoconstruct.analysis.measurement.comparison import baselines_table
from geoconstruct.analysis.measurement.dimension_search import (
    RecallCheck,
    measure_min_dimension,
)
from geoconstruct.analysis.measurement.precision import numeric_format
from geoconstruct.analysis.measurement.sweeps import process_pool
from geoconstruct.analysis.measurement.tradeoff import TradeoffRow, tradeoff_table
from geoconstruct.analysis.measurement.transition import transition_table
from geoconstruct.analysis.measurement.transition_dims import table_cells
from geoconstruct.analysis.mechanism.transfer import transfer_summary
from geoconstruct.analysis.output.plotting import (
    plot_dimension_table,
    plot_memory_parameters,
    plot_tradeoff_table,
    plot_transition_table,
    require_matplotlib,
)
from geoconstruct.analysis.output.tables import markdown_header, markdown_row, render_table
from geoconstruct.analysis.theory.prediction import (
    MEMORIES,
    has_prediction,
    predicted_min_dimension,
)
from geoconstruct.cli.parser import build_parser, family_from_args
from geoconstruct.cli.printing import (
    print_bounds,
    print_control,
    print_multi_hop,
    print_single_hop,
    print_trained,
    print_transfer,
)
from geoconstruct.cli.reports import (
    bounds_summary,
    multi_hop_summary,
    single_hop_summary,
)
from geoconstruct.codes.registry import resolve_codebook
from geoconstruct.constructions.single_hop_sizes import proven_dimension
from geoconstruct.io import load, save, to_torch, to_transformer_lens
from geoconstruct.io.files import SUFFIXES
from geoconstruct.model.backends import require_torch
from geoconstruct.training.comparison import trained_row
from geoconstruct.verification.policy import check_chains, check_recall

__all__ = ["main"]

DEMO_SIZES = (256, 1024, 4096)
DEMO_RELATIONS = 4
DEMO_SETTINGS = (
    ("block", "grid"),
    ("block", "gaussian"),
    ("block", "rademacher"),
    ("superposed", "gaussian"),
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status: 2, with one line on stderr, for a request
    the library refuses (bad input, over the memory budget, a missing extra, a file that cannot
    be read, a search with no answer); 1, with one line that says so, for a bug.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments after the program name; None reads ``sys.argv[1:]``.
    """
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        print(
            f"geoconstruct {args.command}: error: unrecognized arguments: {' '.join(unknown)}",
            file=sys.stderr,
        )
        return 2
    try:
        status: int = HANDLERS[args.command](args)
    except BrokenPipeError:  # the reader (``| head``) stopped reading: not an error of ours
        _silence_stdout()
        return 0
    except (InputTypeError, ValueError, MemoryError, NoResultError, ImportError, OSError) as error:
        message = " ".join(str(error).split())  # one line
        print(f"geoconstruct {args.command}: error: {message}", file=sys.stderr)
        return 2
    except Exception as error:  # anything else is a bug in the library, not in the request
        message = " ".join(f"{type(error).__name__}: {error}".split())
        print(
            f"geoconstruct {args.command}: internal error: {message} (a bug in geoconstruct; "
            "please report it with the command line)",
            file=sys.stderr,
        )
        return 1
    return status


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's final flush into a closed pipe is
    silent too (where stdout is a real file descriptor)."""
    # not a file descriptor when captured or redirected in-process: nothing to silence then
    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _progress(args: argparse.Namespace, **options: Any) -> tqdm[Any]:
    """A progress bar on stderr, off with ``--quiet`` or when stderr is not a terminal."""
    return tqdm(disable=True if args.quiet else None, leave=False, **options)


def _require_positive(**lists: Sequence[int]) -> None:
    """Refuse, before any work, a list holding a value that is not a positive integer."""
    for name, values in lists.items():
        for value in values:
            require_int(name, value, minimum=1)


def _savable(path: str | None) -> None:
    """Refuse, before the build, a ``--save`` path that :func:`geoconstruct.io.save` would."""
    if path is not None and Path(path).suffix not in SUFFIXES:
        raise ValueError(f"--save {path}: the file name must end in {' or '.join(SUFFIXES)}")
    _writable(path)


def _writable(path: str | None) -> None:
    """Refuse, before any work, an output path whose directory does not exist or is not writable."""
    if path is None:
        return
    directory = Path(path).resolve().parent
    if not directory.is_dir():
        raise ValueError(f"cannot write {path}: no directory {directory}")
    if not os.access(directory, os.W_OK):
        raise ValueError(f"cannot write {path}: directory {directory} is not writable")


def _dimension(args: argparse.Namespace) -> int:
    """Which d: proved (always), predicted (where the estimate covers the construction), and
    measured (``--measure``: every fact on every seed, the search of ``table dimension``)."""
    family = family_from_args(args)
    options = dict(layout=args.layout, codebook=family)
    proved = proven_dimension(args.subjects, args.relations, **options)
    print(f"proved d     {proved}  (the smallest d with a proof)")
    if has_prediction(args.layout, family):
        predicted = predicted_min_dimension(args.subjects, args.relations, **options)
        print(
            f"predicted d  {predicted}  (an estimate of the smallest d at which five seeds "
            "recall every fact)"
        )
    if args.measure:
        with _progress(args, desc="min-d search", unit="check") as bar:

            def checked(check: RecallCheck) -> None:
                verdict = "passed" if check.passed else "failed"
                bar.set_postfix_str(f"k={check.code_length} seed {check.seed} {verdict}")
                bar.update(1)

            found = measure_min_dimension(
                args.subjects, args.relations, progress=checked, **options
            )
        seeds = ", ".join(str(seed) for seed in found.seeds)
        below = (
            "one code length less misses a fact"
            if found.failed_below is not None
            else "the shortest code that can be assembled"
        )
        print(
            f"measured d   {found.d}  ({found.basis} on seeds {seeds}; {below}; "
            f"{found.seconds:.1f} s)"
        )
    return 0


def _bounds(args: argparse.Namespace) -> int:
    if isinstance(args.subjects, int) and args.subjects == 1:
        raise ValueError(
            f"--subjects must be at least 2 for the bounds (with one subject each is 0 and no "
            f"ratio is defined), got {args.subjects}"
        )
    summary = bounds_summary(args.subjects, args.relations, args.bits)
    _emit(summary, args.json, print_bounds)
    return 0


def _construct(args: argparse.Namespace) -> int:
    family = family_from_args(args)
    _savable(args.save)
    if args.sample_size is not None:  # before the build, which can take minutes
        require_int("--sample-size", args.sample_size, minimum=1)
    with _progress(args, total=args.subjects * args.relations, desc="recall", unit="fact") as bar:
        summary = single_hop_summary(
            args.subjects,
            args.relations,
            args.dim,
            layout=args.layout,
            codebook=family,
            seed=args.seed,
            dtype=args.dtype,
            memory_budget=args.memory_budget,
            method=args.method,
            precision=args.precision,
            sample=args.sample_size,
            backend=args.backend,
            device=args.device,
            progress=bar.update,
            on_estimate=None if args.quiet else _long_pass_announcer(args.method),
            save_to=args.save,
        )
    _emit(summary, args.json, print_single_hop)
    return 0 if summary.all_correct else 1


LONG_PASS_SECONDS = 60.0
"""An exact pass estimated to take longer than this is announced before it starts."""


def _long_pass_announcer(method: str) -> Callable[[float, str | None], None]:
    """What to say before a long pass over every fact, given its estimated seconds and why the
    certificate can prove nothing here (None where it may): the certificate is named only where
    it can prove facts; with ``--method certified`` where it cannot, that is said first."""

    def announce(seconds: float, uncertifiable: str | None) -> None:
        if method == "certified" and uncertifiable is not None:
            print(
                f"geoconstruct: the certificate proves none of these facts ({uncertifiable}); "
                "the forward pass checks every one",
                file=sys.stderr,
            )
        if seconds > LONG_PASS_SECONDS:
            hint = "--method certified proves most facts without it, " if not uncertifiable else ""
            print(
                f"geoconstruct: the pass over every fact will take about "
                f"{seconds / 60:.0f} min; {hint}--sample-size N checks a seeded sample",
                file=sys.stderr,
            )

    return announce


def _table(args: argparse.Namespace) -> int:
    for path in (args.plot, args.save_prefix):
        _writable(path)
    if args.plot:
        require_matplotlib()
    for name in ("subjects", "relations", "hops", "dims"):
        _require_positive(**{name: getattr(args, name, None) or []})
    for name in getattr(args, "codebook", []):
        resolve_codebook(name)  # fail on an unknown name before any work starts
    for name in getattr(args, "precision", []):
        numeric_format(name)
    if args.kind == "transition":
        return _transition_table(args)
    if args.kind == "tradeoff":
        return _tradeoff_table(args)
    if args.kind == "baselines":
        return _baselines_table(args)
    n_cells = len(args.relations) * len(args.codebook) * len(args.precision)
    n_cells *= len(args.subjects if args.kind == "dimension" else args.dims)
    start = time.perf_counter()
    with (
        process_pool(args.workers) as pool,
        _progress(args, total=n_cells, desc=f"{args.kind} table", unit="cell") as bar,
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
            rows = dimension_table(
                args.subjects,
                args.relations,
                exact_work_limit=_work_limit(args.exact_work_limit),
                backend=args.backend,
                device=args.device,
                **common,
            )
        else:
            rows = capacity_table(
                args.dims, args.relations, max_subjects=args.max_subjects, **common
            )
    _finish(rows, args, start)
    return 0 if all(row.error is None for row in rows) else 1


def _transition_table(args: argparse.Namespace) -> int:
    codebooks = args.codebook
    if len(codebooks) != 1:
        raise ValueError("the transition table takes one codebook")
    if args.dims is not None and args.ratios is not None:
        raise ValueError("--dims and --ratios both choose the d's: give one of them")
    ratios = None if args.ratios is None else tuple(args.ratios)
    work_limit = _work_limit(args.exact_work_limit)
    start = time.perf_counter()
    memories = [require_choice("memory", memory, MEMORIES) for memory in args.memory]
    n_cells = len(  # one per d of each cell; refuses --dims that nothing can assemble
        table_cells(
            args.subjects,
            args.relations,
            args.dims,
            ratios,
            args.layout,
            codebooks[0],
            memories,
            args.hops,
            args.passes,
        )
    )
    with (
        process_pool(args.workers) as pool,
        _progress(args, total=n_cells, desc="transition table", unit="cell") as bar,
    ):
        rows = transition_table(
            args.subjects,
            args.relations,
            args.dims,
            ratios=ratios,
            layout=args.layout,
            codebook=codebooks[0],
            seeds=args.seeds,
            sample=args.sample_size,
            accuracy_work_limit=work_limit,
            backend=args.backend,
            device=args.device,
            executor=pool,
            progress=bar.update,
            memory_budget=args.memory_budget,
            memories=memories,
            hops=args.hops,
            passes=args.passes,
        )
    _finish(rows, args, start)
    return 0


def _work_limit(value: float) -> int:
    """``--exact-work-limit`` (``4e12`` is accepted) as a non-negative whole number."""
    if not value >= 0 or value != int(value):
        raise ValueError(f"--exact-work-limit must be a non-negative whole number, got {value:g}")
    return int(value)


def _finish(rows: Sequence[Any], args: argparse.Namespace, start: float) -> None:
    """Print the table in ``--format`` (with the time it took); with ``--save PREFIX`` write
    every format to files; with ``--plot`` draw it."""
    elapsed = f"{len(rows)} rows in {time.perf_counter() - start:.1f} s"
    print(render_table(rows, args.format), end="")
    if args.format == "md":
        print(f"\n{elapsed}")
    if args.save_prefix:
        for fmt, suffix in (("md", "md"), ("csv", "csv"), ("json", "json"), ("latex", "tex")):
            text = render_table(rows, fmt) + (f"\n{elapsed}\n" if fmt == "md" else "")
            Path(f"{args.save_prefix}.{suffix}").write_text(text)
    if args.plot:
        PLOTTERS[args.kind](rows, args.plot)


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
    with _progress(args, total=n_rows, desc="tradeoff table", unit="row") as bar:
        for relations, codebook, precision in settings:
            rows += tradeoff_table(
                args.entities,
                relations,
                args.hops,
                codebook=codebook,
                precision=precision,
                seed=args.seeds[0],
                sample_size=args.sample_size,
                memory_budget=args.memory_budget,
                progress=bar.update,
            )
    _finish(rows, args, start)
    return 0 if all(row.recall_accuracy == 1.0 for row in rows) else 1


def _baselines_table(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    n_rows = len(args.subjects) * len(args.relations) * 3
    with _progress(args, total=n_rows, desc="baselines table", unit="row") as bar:
        rows = baselines_table(
            args.subjects,
            args.relations,
            seed=args.seeds[0],
            max_checked=args.sample_size,
            memory_budget=args.memory_budget,
            progress=bar.update,
        )
    _finish(rows, args, start)
    return 0 if all(row.error is not None or row.recall == 1.0 for row in rows) else 1


def _transfer(args: argparse.Namespace) -> int:
    _savable(args.save)
    summary = transfer_summary(
        args.subjects,
        args.relations,
        layout=args.layout,
        codebook=family_from_args(args),
        seed=args.seed,
        new_seed=args.new_seed,
    )
    print_transfer(summary, sys.stdout)
    if args.save is not None and summary.transferred is not None:
        path = save(summary.transferred, args.save)
        print(
            f"saved            {path}: the transferred construction, new facts and rewritten "
            f"embeddings (geoconstruct recall {path} checks it again)"
        )
    return 0 if summary.unchanged and summary.all_correct else 1


def _multihop(args: argparse.Namespace) -> int:
    _savable(args.save)
    summary = multi_hop_summary(
        args.entities,
        args.relations,
        args.hops,
        args.steps,
        args.dim,
        codebook=family_from_args(args),
        seed=args.seed,
        dtype=args.dtype,
        max_queries=args.max_queries,
        sample=args.sample_size,
        memory_budget=args.memory_budget,
        save_to=args.save,
    )
    _emit(summary, args.json, print_multi_hop)
    return 0 if summary.all_correct else 1


def _recall(args: argparse.Namespace) -> int:
    """Load a saved construction and check it with the verification policy."""
    construction = load(args.path)
    seed = require_int("--seed", args.seed, minimum=0)
    start = time.perf_counter()
    check = check_recall if construction.queries.single_hop else check_chains
    verdict = check(construction, seed=seed, memory_budget=args.memory_budget)
    passed, basis, n_checked = verdict.passed, verdict.basis, verdict.n_checked
    n_queries, n_certified = verdict.n_queries, verdict.n_certified
    config = construction.config
    result = {
        "path": args.path,
        "kind": construction.kind,
        "n_subjects": construction.facts.n_subjects,
        "n_relations": construction.facts.n_relations,
        "d_model": config.d_model,
        "codebook": construction.codebook.family,
        "guarantee": construction.guarantee.statement,
        "passed": passed,
        "basis": basis,
        "n_queries": n_queries,
        "total_queries": construction.total_queries,
        "n_certified": n_certified,
        "n_checked": n_checked,
        "seconds": time.perf_counter() - start,
    }
    if args.json:
        print(json.dumps(result))
    else:
        what = "every query recalled" if passed else "a query was not recalled"
        print(
            f"loaded           {args.path}: {construction.kind}, N={result['n_subjects']:,}, "
            f"R={result['n_relations']}, d={config.d_model}, {result['codebook']} codes\n"
            f"guarantee        {result['guarantee']}\n"
            f"recall           {what} ({basis}): {n_certified:,} certified, {n_checked:,} "
            f"through the forward pass, of {n_queries:,} queries checked "
            f"({construction.total_queries:,} in all), {result['seconds']:.2f} s"
        )
    return 0 if passed else 1


EXPORT_SUFFIXES = {
    "safetensors": ".safetensors",
    "transformer-lens": ".transformer_lens.pt",
    "torch": ".torch.pt",
}
"""The file each ``export --to`` format writes, after PATH's stem, unless ``--output`` says."""


def _export(args: argparse.Namespace) -> int:
    """Convert a saved construction: safetensors, a TransformerLens or a plain torch state dict."""
    construction = load(args.path)
    source = Path(args.path)
    target = Path(args.output or source.with_name(source.stem + EXPORT_SUFFIXES[args.to]))
    if args.to == "safetensors":
        save(construction, target)
        what = "the construction in safetensors (geoconstruct.io.load reads it)"
    else:
        torch = require_torch("tl" if args.to == "transformer-lens" else "train")
        _writable(str(target))
        if args.to == "transformer-lens":
            module = to_transformer_lens(construction)
            what = "the TransformerLens 4 bridge's state dict (its names: embed.weight, …)"
        else:
            module, what = to_torch(construction), "the plain torch module's state dict"
        torch.save(module.state_dict(), target)
        what += f" ({len(module.state_dict())} tensors; load it with torch.load)"
    print(f"wrote            {target}: {what}")
    return 0


def _bench(args: argparse.Namespace) -> int:
    _require_positive(subjects=args.subjects, relations=args.relations, repeats=[args.repeats])
    rows = []
    if not args.json:
        print("\n".join(markdown_header(BenchRow)))
    for n_subjects in args.subjects:
        for n_relations in args.relations:
            row = bench_size(
                n_subjects,
                n_relations,
                layout=args.layout,
                codebook=args.codebook,
                repeats=args.repeats,
                exact_work_limit=_work_limit(args.exact_limit),
            )
            rows.append(row)
            if not args.json:
                print(markdown_row(row), flush=True)
    if args.json:
        print(json.dumps([row.as_dict() for row in rows], indent=2))
    recalled = all(
        row.n_certified_correct == row.n_facts and row.n_exact_correct in (None, row.n_facts)
        for row in rows
    )
    return 0 if recalled else 1


def _demo(args: argparse.Namespace) -> int:
    with _progress(args, total=args.subjects * args.relations, desc="recall", unit="fact") as bar:
        summary = single_hop_summary(args.subjects, args.relations, progress=bar.update)
    print_single_hop(summary, sys.stdout)
    print(
        f"\nAt the d with a proof, exact recall, R = {DEMO_RELATIONS}, seed 0 "
        "(every fact checked by the forward pass):\n"
    )
    print("\n".join(markdown_header(type(summary))))
    all_correct = summary.all_correct
    for n_subjects in DEMO_SIZES:
        for layout, codebook in DEMO_SETTINGS:
            row = single_hop_summary(
                n_subjects, DEMO_RELATIONS, layout=layout, codebook=resolve_codebook(codebook)
            )
            all_correct &= row.all_correct
            print(markdown_row(row), flush=True)
    return 0 if all_correct else 1


def _emit(summary: Any, as_json: bool, printer: Callable[[Any, TextIO], None]) -> None:
    """Print ``summary`` as one JSON object, or as the printer's plain text."""
    if as_json:
        print(json.dumps(summary.as_dict()))
    else:
        printer(summary, sys.stdout)


PLOTTERS: dict[str, Callable[[Any, str], Any]] = {
    "dimension": plot_dimension_table,
    "tradeoff": plot_tradeoff_table,
    "transition": lambda rows, path: _plot_transition(rows, path),
}
"""The table kinds ``--plot`` draws, and how."""


def _plot_transition(rows: Sequence[Any], path: str) -> None:
    """The transition figure; with several memories, also ``<stem>_parameters<suffix>``."""
    plot_transition_table(rows, path)
    if len({row.memory for row in rows}) > 1:
        target = Path(path)
        plot_memory_parameters(rows, target.with_name(f"{target.stem}_parameters{target.suffix}"))


def _train(args: argparse.Namespace) -> int:
    """Train the model and, unless told otherwise, the frozen-embedding control beside it."""
    if args.freeze_embeddings and args.no_control:
        raise ValueError(
            "--freeze-embeddings trains only the control and --no-control only the model: "
            "give one of them"
        )
    require_torch("train")  # the optional extra: say how to install it, before any work
    # which models: the control alone, the model alone, or both (the default)
    frozen = [True] if args.freeze_embeddings else [False] if args.no_control else [False, True]
    rows = []
    with _progress(args, total=args.steps * len(frozen), desc="training", unit="step") as bar:
        for freeze_embeddings in frozen:
            rows.append(
                trained_row(
                    args.subjects,
                    args.relations,
                    args.dim,
                    d_mlp=args.mlp_width,
                    steps=args.steps,
                    learning_rate=args.learning_rate,
                    weight_decay=args.weight_decay,
                    seed=args.seed,
                    freeze_embeddings=freeze_embeddings,
                    progress=bar.update,
                )
            )
    for row in rows:
        _emit(row, args.json, print_trained)
    if len(rows) == 2 and not args.json:
        print_control(rows[0], rows[1], sys.stdout)
    return 0


HANDLERS = {
    "construct": _construct,
    "recall": _recall,
    "export": _export,
    "dimension": _dimension,
    "bounds": _bounds,
    "multihop": _multihop,
    "table": _table,
    "transfer": _transfer,
    "train": _train,
    "bench": _bench,
    "demo": _demo,
}
