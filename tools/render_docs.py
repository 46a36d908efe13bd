"""Fill the generated blocks of the README and of docs/ with the output of their commands.

Each block sits between ``<!-- BEGIN name -->`` and ``<!-- END name -->`` in the file
:data:`BLOCK_FILES` names, and is replaced by a fenced copy of its command's output, with the
command stated above it:

    demo                geoconstruct demo                                  README.md
    transition-summary  the transition tables' JSON, a row per (N, R)      README.md
                        (with benchmarks/results/transition_2_14.json)
    bounds              geoconstruct bounds --subjects 65536 ...           docs/guide.md
    precision           geoconstruct construct --subjects 1048576 ...      docs/guide.md
    transition          docs/results/transition_table.md                   results/transition.md
    precision-table     docs/results/precision_table.md                    results/precision.md
    superposed          benchmarks/results/superposed_success.md           results/superposed.md
    scale               benchmarks/results/scale.md                        results/performance.md
    dimension           benchmarks/results/dimension_table.md              results/dimension.md
    multihop            geoconstruct multihop --entities 4096 ...          results/multi_hop.md
    tradeoff            benchmarks/results/tradeoff_table.md               results/multi_hop.md
    transfer            geoconstruct transfer --subjects 2000 ...          results/transfer.md
    baselines           benchmarks/results/baselines_table.md              results/baselines.md
    structured          benchmarks/results/structured_table.md             results/transition.md
    sampled-scale       benchmarks/results/sampled_scale.md                results/scale.md
    structured-2-16     benchmarks/results/structured_2_16.md              results/transition.md

Usage: ``python tools/render_docs.py [block ...]`` (default: every block). ``--check`` exits 1
if a deterministic block (bounds, transfer, transition-summary) differs from
what its command prints now. Unknown options are refused (exit 2), so that ``--help`` prints this
and changes nothing.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
GUIDE = ROOT / "docs" / "guide.md"
RESULTS = ROOT / "docs" / "results"
TRANSITION_JSON = RESULTS / "transition_table.json"
TRANSITION_2_14_JSON = ROOT / "benchmarks" / "results" / "transition_2_14.json"
TRANSITION_2_14_COMMAND = (
    "geoconstruct table transition --subjects 16384 --relations 2,4 --seeds 0-9 "
    "--exact-work-limit 1e13 --save benchmarks/results/transition_2_14"
)
PRECISION_RESULTS = RESULTS / "precision_table.md"
PRECISION_COMMAND = (
    "geoconstruct table dimension --subjects 1024,16384 --relations 4 "
    "--precision float32,float16,bfloat16,int8 --save docs/results/precision_table"
)
TRANSITION_COMMAND = (
    "geoconstruct table transition --subjects 256,1024,4096 --relations 2,4,8 "
    "--seeds 0-49 --plot docs/results/transition.png "
    "--save docs/results/transition_table"
)
SUPERPOSED_RESULTS = ROOT / "benchmarks" / "results" / "superposed_success.md"
SCALE_RESULTS = ROOT / "benchmarks" / "results" / "scale.md"
DIMENSION_RESULTS = ROOT / "benchmarks" / "results" / "dimension_table.md"
DIMENSION_COMMAND = (
    "geoconstruct table dimension --subjects 256,4096,65536 --relations 1,4 "
    "--codebook gaussian,grid --precision float32,int8 --exact-work-limit 1e13 "
    "--plot docs/results/dimension_table.png --save benchmarks/results/dimension_table"
)
TRADEOFF_RESULTS = ROOT / "benchmarks" / "results" / "tradeoff_table.md"
TRADEOFF_COMMAND = (
    "geoconstruct table tradeoff --entities 4096 --relations 4 --hops 1,2,3,4 "
    "--codebook grid --precision int8 "
    "--plot docs/results/tradeoff_table.png --save benchmarks/results/tradeoff_table"
)
STRUCTURED_RESULTS = ROOT / "benchmarks" / "results" / "structured_table.md"
STRUCTURED_COMMAND = (
    "geoconstruct table dimension --subjects 256,1024,4096,16384 --relations 2,4,8 "
    "--codebook rademacher,bch --layout superposed --save benchmarks/results/structured_table"
)
STRUCTURED_2_16_RESULTS = ROOT / "benchmarks" / "results" / "structured_2_16.md"
STRUCTURED_2_16_COMMAND = (
    "geoconstruct table dimension --subjects 65536 --relations 2,4 --codebook rademacher,bch "
    "--layout superposed --exact-work-limit 1e13 --save benchmarks/results/structured_2_16"
)
BASELINES_RESULTS = ROOT / "benchmarks" / "results" / "baselines_table.md"
BASELINES_COMMAND = (
    "geoconstruct table baselines --subjects 256,1024,4096,16384,65536 --relations 1,4,16 "
    "--save benchmarks/results/baselines_table"
)

COMMANDS = {
    "demo": ["geoconstruct", "demo"],
    "bounds": ["geoconstruct", "bounds", "--subjects", "65536", "--relations", "4", "--bits", "8"],
    "precision": [
        *("geoconstruct", "construct", "--subjects", "1048576", "--relations", "4"),
        *("--layout", "block", "--codebook", "grid", "--bits", "4", "--precision", "int4"),
        *("--method", "certified", "--dtype", "float32"),
    ],
    "transfer": ["geoconstruct", "transfer", "--subjects", "2000", "--relations", "4"],
    "multihop": [
        *("geoconstruct", "multihop", "--entities", "4096", "--relations", "4"),
        *("--hops", "3", "--steps", "1"),
    ],
}
DETERMINISTIC = ("bounds", "transfer", "transition-summary")
BLOCK_FILES = {
    "demo": README,
    "transition-summary": README,
    "bounds": GUIDE,
    "precision": GUIDE,
    "transition": RESULTS / "transition.md",
    "precision-table": RESULTS / "precision.md",
    "superposed": RESULTS / "superposed.md",
    "scale": RESULTS / "performance.md",
    "dimension": RESULTS / "dimension.md",
    "multihop": RESULTS / "multi_hop.md",
    "tradeoff": RESULTS / "multi_hop.md",
    "transfer": RESULTS / "transfer.md",
    "baselines": RESULTS / "baselines.md",
    "structured": RESULTS / "transition.md",
    "sampled-scale": RESULTS / "scale.md",
    "structured-2-16": RESULTS / "transition.md",
}
TABLES = ("superposed", "scale", "dimension", "tradeoff", "baselines", "transition")
TABLES += ("structured",)
TABLES += ("precision-table", "sampled-scale", "structured-2-16")


def transition_summary(*sources: tuple[Path, str]) -> str:
    """One row per (N, R) of the transition tables: the fitted d_50 and d_95 with their 95 %
    intervals, the prediction's, the seeds and the row's time, and the proved d
    (``proven_dimension``, a formula: computed here, so that a table measured before the theorem
    changed shows today's proof)."""
    import json

    from geoconstruct import proven_dimension

    seen: dict[tuple[int, int], dict[str, Any]] = {}
    commands = []
    for path, command in sources:
        rows = json.loads(path.read_text())
        for row in rows:
            seen.setdefault((row["n_subjects"], row["n_relations"]), row)
        commands.append(f"`{command}`")

    def interval(row: dict[str, Any], name: str) -> str:
        ends = [
            "?" if row[f"{name}_{end}"] is None else f"{row[f'{name}_{end}']:.0f}"
            for end in ("low", "high")
        ]
        return f"{row[name]:.1f} [{ends[0]}, {ends[1]}]"

    def within(predicted: int, row: dict[str, Any], name: str) -> str:
        low, high = row[f"{name}_low"], row[f"{name}_high"]
        if low is not None and high is not None and low <= predicted <= high:
            return "inside"
        nearest = min(
            (end for end in (low, high) if end is not None),
            key=lambda end: abs(end - predicted),
            default=row[name],
        )
        return f"{100 * (predicted - nearest) / nearest:+.1f} %"

    lines = [
        "| N | R | seeds | d_50 [95 %] | predicted d_50 | vs interval | d_95 [95 %] | "
        "predicted d_95 | vs interval | d_50 / R·log2 N | proved d | proved / d_50 | "
        "proved / d_95 | worker-minutes |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (n, r), row in sorted(seen.items()):
        proved = proven_dimension(n, r)
        lines.append(
            f"| {n:,} | {r} | {len(row['seeds'])} | {interval(row, 'd50')} | "
            f"{row['predicted_d50']} | {within(row['predicted_d50'], row, 'd50')} | "
            f"{interval(row, 'd95')} | {row['predicted_d95']} | "
            f"{within(row['predicted_d95'], row, 'd95')} | {row['d50'] / row['r_log2_n']:.2f} | "
            f"{proved} | {proved / row['d50']:.2f} | {proved / row['d95']:.2f} | "
            f"{row['law_seconds'] / 60:.1f} |"
        )
    return "\n".join(lines) + "\n\nFrom " + "; ".join(commands) + "."


def command_output(name: str) -> str:
    if name == "transition-summary":
        return transition_summary(
            (TRANSITION_JSON, TRANSITION_COMMAND), (TRANSITION_2_14_JSON, TRANSITION_2_14_COMMAND)
        )
    if name == "transition":
        text = (RESULTS / "transition_table.md").read_text().strip()
        return f"`$ {TRANSITION_COMMAND}`\n\n" + text
    if name == "precision-table":
        return f"`$ {PRECISION_COMMAND}`\n\n" + PRECISION_RESULTS.read_text().strip()
    if name == "structured-2-16":
        return f"`$ {STRUCTURED_2_16_COMMAND}`\n\n" + STRUCTURED_2_16_RESULTS.read_text().strip()
    if name == "sampled-scale":
        return (ROOT / "benchmarks" / "results" / "sampled_scale.md").read_text().strip()
    if name == "superposed":
        return SUPERPOSED_RESULTS.read_text().strip()
    if name == "scale":
        return SCALE_RESULTS.read_text().strip()
    if name == "dimension":
        return f"`$ {DIMENSION_COMMAND}`\n\n" + DIMENSION_RESULTS.read_text().strip()
    if name == "baselines":
        return f"`$ {BASELINES_COMMAND}`\n\n" + BASELINES_RESULTS.read_text().strip()
    if name == "structured":
        return f"`$ {STRUCTURED_COMMAND}`\n\n" + STRUCTURED_RESULTS.read_text().strip()
    if name == "tradeoff":
        return f"`$ {TRADEOFF_COMMAND}`\n\n" + TRADEOFF_RESULTS.read_text().strip()
    argv = [sys.executable, "-m", "geoconstruct", *COMMANDS[name][1:]]
    result = subprocess.run(argv, capture_output=True, text=True, check=True, cwd=ROOT)
    return result.stdout.rstrip()


def render_block(name: str, output: str) -> str:
    if name in (*TABLES, "transition-summary"):
        return output + "\n"  # already a Markdown table
    return f"`$ {' '.join(COMMANDS[name])}`\n\n```\n{output}\n```\n"


def block_pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"(<!-- BEGIN {name} -->\n).*?(<!-- END {name} -->)", re.DOTALL)


def current_block(text: str, name: str) -> str:
    match = block_pattern(name).search(text)
    if match is None:
        raise SystemExit(f"{BLOCK_FILES[name]} has no block {name!r}")
    return text[match.end(1) : match.start(2)]


def main(argv: list[str]) -> int:
    unknown = [arg for arg in argv if arg.startswith("-") and arg != "--check"]
    unknown += [arg for arg in argv if not arg.startswith("-") and arg not in BLOCK_FILES]
    if unknown:
        print(__doc__, file=sys.stderr)
        return 2 if unknown != ["--help"] and unknown != ["-h"] else 0
    check = "--check" in argv
    names = [arg for arg in argv if not arg.startswith("--")] or list(BLOCK_FILES)
    if check:
        stale = [
            name
            for name in DETERMINISTIC
            if current_block(BLOCK_FILES[name].read_text(), name)
            != render_block(name, command_output(name))
        ]
        if stale:
            print(f"generated blocks out of date: {', '.join(stale)}", file=sys.stderr)
            return 1
        return 0
    for name in names:
        path = BLOCK_FILES[name]
        rendered = render_block(name, command_output(name))
        text = path.read_text()
        text = block_pattern(name).sub(lambda m, r=rendered: m.group(1) + r + m.group(2), text)
        path.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
