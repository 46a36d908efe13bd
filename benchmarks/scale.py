"""The performance bench at scale: construction, certified and exact recall up to N = 10^6, R = 16.

Runs :func:`geoconstruct.analysis.measurement.bench.bench_size` over a grid of sizes, prints the
table that ``geoconstruct bench`` prints, and writes it to ``benchmarks/results/scale.{md,json}``.
Exact recall runs where ``N·R·d_vocab <= 10^11`` logits (N = 10^5, R = 4 is the largest such size).
A last row certifies the superposed layout at N = 10^5, R = 4 with dual-BCH codes and their sign
read maps (``BCHCodes(max_coherence=0.875)``, float32, a 16 GiB memory budget).

Usage::

    python benchmarks/scale.py                                    # the full grid (a few minutes)
    python benchmarks/scale.py --subjects 10000 --relations 4     # one size
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path

from geoconstruct import __version__
from geoconstruct.analysis.measurement.bench import BenchRow, bench_size
from geoconstruct.analysis.output.tables import markdown_header, markdown_row
from geoconstruct.codes.codebooks import BCHCodes

RESULTS = Path(__file__).parent / "results"


def _int_list(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=_int_list, default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--relations", type=_int_list, default=[4, 16])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--out", default=str(RESULTS / "scale"), help="path without extension")
    parser.add_argument(
        "--superposed-subjects", type=int, default=100_000, help="0: skip the superposed row"
    )
    args = parser.parse_args(argv)

    machine = (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, "
        f"python {platform.python_version()}"
    )
    lines = [f"geoconstruct {__version__}, `python benchmarks/scale.py` on {machine}", ""]
    lines += markdown_header(BenchRow)
    print("\n".join(lines), flush=True)
    rows = []
    for n_subjects in args.subjects:
        for n_relations in args.relations:
            row = bench_size(n_subjects, n_relations, repeats=args.repeats)
            rows.append(row.as_dict())
            lines.append(markdown_row(row))
            print(lines[-1], flush=True)
    if args.superposed_subjects:
        row = bench_size(
            args.superposed_subjects,
            4,
            layout="superposed",
            codebook=BCHCodes(max_coherence=0.875),
            dtype="float32",
            exact_work_limit=0,
            memory_budget=16 * 2**30,
        )
        rows.append(row.as_dict())
        lines.append(markdown_row(row))
        print(lines[-1], flush=True)
    out = Path(args.out)
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    out.with_suffix(".json").write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
