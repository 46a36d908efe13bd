"""Fill the README's generated blocks with the output of the commands that produce them.

Each block sits between ``<!-- BEGIN name -->`` and ``<!-- END name -->`` and is replaced by a
fenced copy of its command's output, with the command stated above it:

    demo        geoconstruct demo
    bounds      geoconstruct bounds --subjects 65536 --relations 4 --bits 8
    precision   geoconstruct construct --subjects 1048576 --relations 4 --bits 4 --precision int4
                --method certified --dtype float32
    superposed  benchmarks/results/superposed_success.md, written by
                python benchmarks/superposed_success.py --subjects 1000,4000 --relations 2,4,8
                --seeds 20 --json ... > benchmarks/results/superposed_success.md
    scale       benchmarks/results/scale.md, written by python benchmarks/scale.py
    dimension   benchmarks/results/dimension_table.md, written by the command named in the
                block (geoconstruct table dimension ... --save benchmarks/results/dimension_table)
    multihop    geoconstruct multihop --entities 4096 --relations 4 --hops 3 --steps 1
    transfer    geoconstruct transfer --subjects 10000 --relations 8
    baselines   benchmarks/results/baselines_table.md, written by the command named in the block
    tradeoff    benchmarks/results/tradeoff_table.md, written by the command named in the block
                (geoconstruct table tradeoff ... --save benchmarks/results/tradeoff_table)

Usage: ``python tools/render_readme.py [block ...]`` (default: every block). ``--check`` exits 1
if a deterministic block (bounds) differs from what the command prints now.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
SUPERPOSED_RESULTS = ROOT / "benchmarks" / "results" / "superposed_success.md"
SCALE_RESULTS = ROOT / "benchmarks" / "results" / "scale.md"
DIMENSION_RESULTS = ROOT / "benchmarks" / "results" / "dimension_table.md"
DIMENSION_COMMAND = (
    "geoconstruct table dimension --subjects 256,4096,65536,1048576 --relations 1,4,16 "
    "--codebook gaussian,grid --precision float32,int8 "
    "--plot benchmarks/results/dimension_table.png --save benchmarks/results/dimension_table"
)
TRADEOFF_RESULTS = ROOT / "benchmarks" / "results" / "tradeoff_table.md"
TRADEOFF_COMMAND = (
    "geoconstruct table tradeoff --entities 4096 --relations 4 --hops 1,2,3,4 "
    "--codebook grid --precision int8 "
    "--plot benchmarks/results/tradeoff_table.png --save benchmarks/results/tradeoff_table"
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
        *("--bits", "4", "--precision", "int4", "--method", "certified", "--dtype", "float32"),
    ],
    "transfer": ["geoconstruct", "transfer", "--subjects", "10000", "--relations", "8"],
    "multihop": [
        *("geoconstruct", "multihop", "--entities", "4096", "--relations", "4"),
        *("--hops", "3", "--steps", "1"),
    ],
}
DETERMINISTIC = ("bounds", "transfer")


def command_output(name: str) -> str:
    if name == "superposed":
        return SUPERPOSED_RESULTS.read_text().strip()
    if name == "scale":
        return SCALE_RESULTS.read_text().strip()
    if name == "dimension":
        return f"`$ {DIMENSION_COMMAND}`\n\n" + DIMENSION_RESULTS.read_text().strip()
    if name == "baselines":
        return f"`$ {BASELINES_COMMAND}`\n\n" + BASELINES_RESULTS.read_text().strip()
    if name == "tradeoff":
        return f"`$ {TRADEOFF_COMMAND}`\n\n" + TRADEOFF_RESULTS.read_text().strip()
    argv = [sys.executable, "-m", "geoconstruct", *COMMANDS[name][1:]]
    result = subprocess.run(argv, capture_output=True, text=True, check=True, cwd=ROOT)
    return result.stdout.rstrip()


def render_block(name: str, output: str) -> str:
    if name in ("superposed", "scale", "dimension", "tradeoff", "baselines"):
        return output + "\n"  # already a Markdown table
    return f"`$ {' '.join(COMMANDS[name])}`\n\n```\n{output}\n```\n"


def block_pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"(<!-- BEGIN {name} -->\n).*?(<!-- END {name} -->)", re.DOTALL)


def current_block(text: str, name: str) -> str:
    match = block_pattern(name).search(text)
    if match is None:
        raise SystemExit(f"README has no block {name!r}")
    return text[match.end(1) : match.start(2)]


def main(argv: list[str]) -> int:
    check = "--check" in argv
    names = [arg for arg in argv if not arg.startswith("--")] or [
        "demo",
        "bounds",
        "precision",
        "superposed",
        "scale",
        "dimension",
        "multihop",
        "tradeoff",
        "transfer",
        "baselines",
    ]
    text = README.read_text()
    if check:
        stale = [
            name
            for name in DETERMINISTIC
            if current_block(text, name) != render_block(name, command_output(name))
        ]
        if stale:
            print(f"README blocks out of date: {', '.join(stale)}", file=sys.stderr)
            return 1
        return 0
    for name in names:
        rendered = render_block(name, command_output(name))
        text = block_pattern(name).sub(lambda m, r=rendered: m.group(1) + r + m.group(2), text)
    README.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
