"""The argument parser of the ``geoconstruct`` command: every subcommand and option."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

from geoconstruct import __version__
from geoconstruct._validation import DEFAULT_MEMORY_BUDGET
from geoconstruct.analysis.measurement.dimension_search import DEFAULT_SEEDS
from geoconstruct.analysis.measurement.transition_dims import DEFAULT_RATIOS, LAW_FACTORS, PASSES
from geoconstruct.analysis.output.tables import TABLE_FORMATS
from geoconstruct.analysis.theory.prediction import MEMORIES
from geoconstruct.codes.protocol import CodebookFamily
from geoconstruct.codes.registry import CODEBOOK_NAMES, FAMILIES, codebook_family
from geoconstruct.constructions.layouts import LAYOUTS
from geoconstruct.constructions.queries import RECALL_METHODS
from geoconstruct.constructions.single_hop_sizes import DEFAULT_CODEBOOK, DEFAULT_LAYOUT
from geoconstruct.model.transformer import DTYPES
from geoconstruct.training.trainer import (
    DEFAULT_LEARNING_RATE,
    DEFAULT_STEPS,
    DEFAULT_WEIGHT_DECAY,
)
from geoconstruct.verification.evaluation import BACKENDS
from geoconstruct.verification.policy import (
    CHAIN_SAMPLE_SIZE,
    EXACT_WORK_LIMIT,
    MAX_EXHAUSTIVE_QUERIES,
    SAMPLE_SIZE,
    TABLE_SAMPLE_SIZE,
)

__all__ = [
    "EXPORT_FORMATS",
    "PLOTTED_TABLES",
    "TABLE_KINDS",
    "build_parser",
    "family_from_args",
]

Number = TypeVar("Number", int, float)


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Each option's default after its help, unless the help already names it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        help_text = action.help or ""
        hidden = action.default is None or action.default is False  # (0 is shown)
        if "default" in help_text or hidden or action.default == argparse.SUPPRESS:
            return help_text
        shown = action.default
        if isinstance(shown, list):
            shown = ",".join(str(value) for value in shown)
        return f"{help_text} (default: {shown})".replace("%", "%%")


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr (exit status 2)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The command line's parser: one subcommand each, ``table`` with one parser a kind."""
    parser = _Parser(
        prog="geoconstruct",
        description="Closed-form transformer weights that memorise facts geometrically.",
    )
    parser.add_argument("--version", action="version", version=f"geoconstruct {__version__}")
    quiet = _Parser(add_help=False)
    quiet.add_argument(
        "--quiet",
        action="store_true",
        help="no progress bars (they are off when stderr is no terminal)",
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    construct = commands.add_parser(
        "construct", parents=[quiet], help="build a single-hop construction and check every fact"
    )
    _add_size_arguments(construct)
    construct.add_argument(
        "--dim", type=int, default=None, help="d_model (default: the smallest with a proof)"
    )
    construct.add_argument("--seed", type=int, default=0, help="seed of the facts and the codes")
    construct.add_argument("--dtype", choices=DTYPES, default="float64", help="weights' dtype")
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
        "--sample-size",
        type=int,
        default=None,
        help="check a seeded sample of this many facts (default: every fact)",
    )
    _add_backend_arguments(construct)
    construct.add_argument(
        "--precision",
        default=None,
        help="round the fact-dependent parameters to this format (float64, float32, float16, "
        "bfloat16, intP) before recall, and report the storage efficiency (default: the dtype)",
    )
    construct.add_argument("--json", action="store_true", help="print one JSON object")
    _add_save_argument(construct)

    dimension = commands.add_parser(
        "dimension",
        parents=[quiet],
        help="the smallest d with a proof, the predicted one, and (--measure) the measured one",
    )
    _add_size_arguments(dimension)
    dimension.add_argument(
        "--measure",
        action="store_true",
        help="also search for the smallest d at which seeds 0-4 recall every fact (the "
        "forward pass on every query; minutes at N = 10^4)",
    )

    bounds = commands.add_parser(
        "bounds", parents=[quiet], help="lower bounds beside the dimension each construction uses"
    )
    _add_sizes(bounds)
    bounds.add_argument("--bits", type=int, default=8, help="p, bits per parameter (default 8)")
    bounds.add_argument("--json", action="store_true", help="print one JSON object")

    multihop = commands.add_parser(
        "multihop",
        parents=[quiet],
        help="build a multi-hop construction and check every query by chain of thought",
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
    multihop.add_argument("--codebook", choices=CODEBOOK_NAMES, default="grid", help="codes")
    multihop.add_argument(
        "--bits",
        type=int,
        default=None,
        help=f"bits per coordinate of {', '.join(_taking('bits'))} codes (default 8)",
    )
    multihop.add_argument("--max-coherence", type=float, default=None, help="unit codes' μ")
    multihop.add_argument("--seed", type=int, default=0, help="seed of the facts and the codes")
    multihop.add_argument("--dtype", choices=DTYPES, default="float64", help="weights' dtype")
    multihop.add_argument(
        "--max-queries",
        type=int,
        default=MAX_EXHAUSTIVE_QUERIES,
        help="check every query up to this many, else a seeded sample (default 1e7)",
    )
    multihop.add_argument(
        "--sample-size",
        type=int,
        default=CHAIN_SAMPLE_SIZE,
        help=f"(default {CHAIN_SAMPLE_SIZE:,})",
    )
    multihop.add_argument(
        "--memory-budget", type=_bytes, default=DEFAULT_MEMORY_BUDGET, help="(default 8G)"
    )
    multihop.add_argument("--json", action="store_true", help="print one JSON object")
    _add_save_argument(multihop)
    multihop.set_defaults(layout="block")

    recall = commands.add_parser(
        "recall",
        parents=[quiet],
        help="check a saved construction with the verification policy (certificate first)",
    )
    recall.add_argument("path", help="a file written by --save or geoconstruct.io.save")
    recall.add_argument("--seed", type=int, default=0, help="seed of a sample, where one is drawn")
    recall.add_argument(
        "--memory-budget", type=_bytes, default=DEFAULT_MEMORY_BUDGET, help="(default 8G)"
    )
    recall.add_argument("--json", action="store_true", help="print one JSON object")

    export = commands.add_parser(
        "export", parents=[quiet], help="convert a saved construction for other tools"
    )
    export.add_argument("path", help="a file written by --save or geoconstruct.io.save")
    export.add_argument(
        "--to",
        choices=EXPORT_FORMATS,
        required=True,
        help="safetensors: the same construction in that format (.[safetensors]); "
        "transformer-lens: the TransformerLens 4 bridge's state dict (.[tl]); torch: the "
        "plain torch module's state dict (torch, e.g. .[train])",
    )
    export.add_argument(
        "--output", default=None, help="where to write (default: PATH with the format's suffix)"
    )

    _add_table_parsers(commands, quiet)

    train = commands.add_parser(
        "train",
        parents=[quiet],
        help="train the same architecture with AdamW (needs .[train]), beside a frozen-embedding "
        "control, and read both with the probes",
    )
    _add_sizes(train)
    train.add_argument("--dim", type=int, required=True, help="d_model")
    train.add_argument("--mlp-width", type=int, default=None, help="d_mlp (default 4·d)")
    train.add_argument("--steps", type=int, default=DEFAULT_STEPS, help="full-batch AdamW steps")
    train.add_argument(
        "--learning-rate", type=float, default=DEFAULT_LEARNING_RATE, help="AdamW's step size"
    )
    train.add_argument(
        "--weight-decay", type=float, default=DEFAULT_WEIGHT_DECAY, help="AdamW's weight decay"
    )
    train.add_argument("--seed", type=int, default=0, help="seed of the facts and the init")
    train.add_argument(
        "--freeze-embeddings",
        action="store_true",
        help="train only the frozen-embedding control: W_E kept at its random initialisation",
    )
    train.add_argument(
        "--no-control",
        action="store_true",
        help="train only the model, without the frozen-embedding control beside it",
    )
    train.add_argument(
        "--json", action="store_true", help="print one JSON object per model, a line each"
    )

    transfer = commands.add_parser(
        "transfer",
        parents=[quiet],
        help="new facts through the same MLP: re-initialise subject embeddings only",
    )
    _add_size_arguments(transfer)
    transfer.add_argument("--seed", type=int, default=0, help="seed of the facts and the codes")
    transfer.add_argument("--new-seed", type=int, default=1, help="seed of the new facts")
    _add_save_argument(transfer)

    bench = commands.add_parser(
        "bench",
        parents=[quiet],
        help="time construction, certified and exact recall beside references",
    )
    bench.add_argument("--subjects", type=_int_list, default=[1000, 10_000], help="N list")
    bench.add_argument("--relations", type=_int_list, default=[4, 16], help="R list")
    bench.add_argument("--layout", choices=tuple(LAYOUTS), default="block", help="residual layout")
    bench.add_argument(
        "--codebook", choices=CODEBOOK_NAMES, default="grid", help="codes (the exact regime)"
    )
    bench.add_argument("--repeats", type=int, default=1, help="best of this many runs")
    bench.add_argument(
        "--exact-work-limit",
        "--exact-limit",
        dest="exact_limit",
        type=float,
        default=EXACT_WORK_LIMIT,
        help="run exact recall only up to N·R·d_vocab·d multiply-adds "
        f"(default {EXACT_WORK_LIMIT:.0e})",
    )
    bench.add_argument("--json", action="store_true", help="print a JSON list of rows")

    demo = commands.add_parser("demo", parents=[quiet], help="the README's main job")
    demo.add_argument("--subjects", type=int, default=10_000, help="N of the headline construction")
    demo.add_argument("--relations", type=int, default=4, help="R of the headline construction")
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


def _positive_int(text: str) -> int:
    """A whole number of at least 1 (argparse names the flag in its error)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _float_list(text: str) -> list[float]:
    """``"1,2.5"`` -> ``[1.0, 2.5]``, every value positive."""
    values = _number_list(text, float, "numbers")
    if min(values) <= 0:
        raise argparse.ArgumentTypeError(f"not a list of positive numbers: {text!r}")
    return values


def _int_list(text: str) -> list[int]:
    """``"1000,10000"`` -> ``[1000, 10000]``."""
    return _number_list(text, int, "integers")


def _seed_list(text: str) -> list[int]:
    """``"0-2,7"`` -> ``[0, 1, 2, 7]``: integers and inclusive ranges, in order, no repeats."""
    seeds: list[int] = []
    for part in (part.strip() for part in text.split(",")):
        first, dash, last = part.partition("-")
        if not dash:
            seeds += _number_list(part, int, "seeds") if part else []
            continue
        try:
            low, high = int(first), int(last)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a seed range: {part!r}") from None
        if high < low:
            raise argparse.ArgumentTypeError(f"an empty seed range: {part!r}")
        seeds += range(low, high + 1)
    if not seeds:
        raise argparse.ArgumentTypeError(f"empty list: {text!r}")
    if len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"a seed is repeated in {text!r}")
    return seeds


def _number_list(text: str, kind: Callable[[str], Number], name: str) -> list[Number]:
    try:
        values = [kind(part) for part in text.split(",") if part.strip()]
    except ValueError:
        message = f"not a comma-separated list of {name}: {text!r}"
        raise argparse.ArgumentTypeError(message) from None
    if not values:
        raise argparse.ArgumentTypeError(f"empty list: {text!r}")
    return values


def _name_list(text: str) -> list[str]:
    """``"grid,gaussian"`` -> ``["grid", "gaussian"]``."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"empty list: {text!r}")
    return names


TABLE_KINDS = ("dimension", "capacity", "tradeoff", "baselines", "transition")
PLOTTED_TABLES = ("dimension", "tradeoff", "transition")


def _add_table_parsers(commands: Any, quiet: argparse.ArgumentParser) -> None:
    """``table KIND``: one parser a kind, each with its own options and defaults."""
    table = commands.add_parser(
        "table",
        help="measured dimension, capacity, trade-off, baselines or transition beside the bounds",
        description="One table of measurements beside the bounds; "
        "`geoconstruct table KIND --help` lists the options of each kind.",
    )
    kinds = table.add_subparsers(dest="kind", required=True, parser_class=_Parser)
    helps = {
        "dimension": "the smallest d that recalls every fact, beside the lower bounds",
        "capacity": "the largest N that each d holds, beside the per-subject bound",
        "tradeoff": "multi-hop: the capacity-depth trade-off against the per-pass bound",
        "baselines": "the construction beside key-value and outer-product memories",
        "transition": "recall against d over seeds: the phase transition",
    }
    for kind in TABLE_KINDS:
        parser = kinds.add_parser(kind, parents=[quiet], help=helps[kind], description=helps[kind])
        exact_regime = kind in ("tradeoff", "baselines")  # grid codes in the block layout
        if kind in ("dimension", "baselines", "transition"):
            parser.add_argument("--subjects", type=_int_list, default=[256, 4096], help="N list")
        if kind == "capacity":
            parser.add_argument("--dims", type=_int_list, default=[64, 128, 256], help="d list")
            parser.add_argument(
                "--max-subjects", type=int, default=2**20, help="largest N searched"
            )
        if kind == "tradeoff":
            parser.add_argument("--entities", type=int, default=4096, help="N")
            parser.add_argument("--hops", type=_int_list, default=[1, 2, 3, 4], help="H list")
        if kind == "transition":
            parser.add_argument(
                "--dims",
                type=_int_list,
                default=None,
                help="d list (default: around the transition, "
                + ",".join(f"{factor:g}" for factor in LAW_FACTORS)
                + " times the predicted d_50, and the proved d)",
            )
            parser.add_argument(
                "--ratios",
                type=_float_list,
                default=None,
                help="d / (R·log2 N) to measure at, instead of --dims (e.g. "
                + ",".join(f"{ratio:g}" for ratio in DEFAULT_RATIOS)
                + ")",
            )
            parser.add_argument(
                "--memory",
                type=_name_list,
                default=["geometric"],
                help="memory list: " + ", ".join(MEMORIES) + " (the associative memories at "
                "any d with random keys; multi_hop: superposed chains)",
            )
            parser.add_argument(
                "--hops",
                type=_int_list,
                default=[2, 3],
                help="H list of multi_hop",
            )
            parser.add_argument(
                "--passes",
                type=_name_list,
                default=list(PASSES),
                help="how multi_hop answers: chain (of thought, L = H), single (pass, L = 1)",
            )
        parser.add_argument("--relations", type=_int_list, default=[1, 4], help="R list")
        if kind != "baselines":
            parser.add_argument(
                "--codebook",
                type=_name_list,
                default=["grid" if exact_regime else DEFAULT_CODEBOOK],
                help="codebook list" + (" (one codebook)" if kind == "transition" else ""),
            )
        if kind in ("dimension", "capacity", "tradeoff"):
            parser.add_argument(
                "--precision",
                type=_name_list,
                default=["float32"],
                help="number format list (float64, float32, float16, bfloat16, int8, ...)",
            )
        if kind in ("dimension", "capacity", "transition"):
            parser.add_argument(
                "--layout",
                choices=tuple(LAYOUTS),
                default=DEFAULT_LAYOUT,
                help="residual layout (grid codes always use block)",
            )
        parser.add_argument(
            "--seeds",
            type=_seed_list,
            default=[0] if exact_regime else list(DEFAULT_SEEDS),
            help="seed list, ranges allowed: 0-49,100"
            + (" (the first is used)" if exact_regime else ""),
        )
        if kind in ("tradeoff", "baselines", "transition"):
            parser.add_argument(
                "--sample-size",
                type=int,
                default={
                    "tradeoff": SAMPLE_SIZE,
                    "baselines": TABLE_SAMPLE_SIZE,
                    "transition": None,
                }[kind],
                help="queries checked per row when they are more"
                + (" (default: every query up to the work limit)" if kind == "transition" else ""),
            )
        if kind in ("dimension", "capacity", "transition"):
            parser.add_argument(
                "--workers",
                type=_positive_int,
                default=None,
                help="processes (default: one per core)",
            )
        if kind in ("dimension", "transition"):
            _add_verification_arguments(parser)
        parser.add_argument(
            "--memory-budget",
            type=_bytes,
            default=DEFAULT_MEMORY_BUDGET,
            help="bytes per cell (default 8G)",
        )
        parser.add_argument("--format", choices=TABLE_FORMATS, default="md", help="output format")
        if kind in PLOTTED_TABLES:
            parser.add_argument(
                "--plot", default=None, help="also draw the table to this .png (needs .[plot])"
            )
        else:
            parser.set_defaults(plot=None)
        parser.add_argument(
            "--save",
            dest="save_prefix",  # not "save": nnsight gives every object a save() method, and
            # argparse then takes the option for set and never writes its default
            default=None,
            metavar="PREFIX",
            help="also write PREFIX.md, .csv, .json and .tex (one run)",
        )


EXPORT_FORMATS = ("safetensors", "transformer-lens", "torch")
"""What ``geoconstruct export --to`` writes."""


def _add_save_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--save",
        default=None,
        metavar="PATH",
        help="also write the construction to PATH (.npz, or .safetensors with .[safetensors]), "
        "which geoconstruct recall and geoconstruct.io.load read",
    )


def _add_verification_arguments(parser: argparse.ArgumentParser) -> None:
    """Where the forward pass runs, and up to what work a check covers every fact."""
    parser.add_argument(
        "--exact-work-limit",
        type=float,
        default=EXACT_WORK_LIMIT,
        help="check every fact up to this many multiply-adds a construction, beyond it a "
        f"seeded sample (default {EXACT_WORK_LIMIT:.0e})",
    )
    _add_backend_arguments(parser)


def _add_backend_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default="numpy",
        help="the forward pass in numpy or in torch (needs .[tl]) (default numpy)",
    )
    parser.add_argument(
        "--device",
        choices=("cpu", "cuda"),
        default="cpu",
        help="where the torch pass runs (default cpu)",
    )


def _add_sizes(parser: argparse.ArgumentParser) -> None:
    """The required ``--subjects N --relations R``."""
    parser.add_argument("--subjects", type=int, required=True, help="N, the number of subjects")
    parser.add_argument("--relations", type=int, required=True, help="R, the number of relations")


def _add_size_arguments(parser: argparse.ArgumentParser) -> None:
    _add_sizes(parser)
    parser.add_argument(
        "--layout", choices=tuple(LAYOUTS), default=DEFAULT_LAYOUT, help="(default superposed)"
    )
    parser.add_argument(
        "--codebook", choices=CODEBOOK_NAMES, default=DEFAULT_CODEBOOK, help="(default gaussian)"
    )
    parser.add_argument(
        "--bits",
        type=int,
        default=None,
        help=f"bits per coordinate of {', '.join(_taking('bits'))} codes (default 8)",
    )
    parser.add_argument(
        "--max-coherence",
        type=float,
        default=None,
        help=f"unit codes ({', '.join(_taking('max_coherence'))}): the coherence bound μ, "
        "guaranteed margin 1 - μ (default 0.5)",
    )


def _taking(option: str) -> list[str]:
    """The codebook families whose constructor takes ``option``."""
    return [name for name, family in FAMILIES.items() if option in family.options]


def family_from_args(args: argparse.Namespace) -> CodebookFamily:
    """The codebook family ``--codebook``, ``--bits`` and ``--max-coherence`` ask for.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed arguments of a command with codebook options.
    """
    return codebook_family(args.codebook, bits=args.bits, max_coherence=args.max_coherence)
