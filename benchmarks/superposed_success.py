"""Measure how often the superposed layout recalls every fact at its documented dimension.

For every size (N, R) and every seed, build ``construct_single_hop(N, R, proven_dimension(...),
layout="superposed")`` and run the exact forward-pass recall over all N·R facts. Prints one row per
size: the dimension, the success rate over the seeds, the smallest and median logit margin, and
the mean wall time of construction + recall.

Usage::

    python benchmarks/superposed_success.py --subjects 1000,4000 --relations 2,4,8 --seeds 20
    python benchmarks/superposed_success.py ... --json results.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

from geoconstruct import construct_single_hop, proven_dimension


def _int_list(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=_int_list, default=[1000, 4000])
    parser.add_argument("--relations", type=_int_list, default=[2, 4, 8])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--codebook", default="gaussian", choices=["gaussian", "rademacher"])
    parser.add_argument("--json", dest="json_path", default=None, help="also write rows here")
    args = parser.parse_args(argv)

    rows = []
    print("| N | R | d | d_s = k | seeds | all recalled | min margin | median margin | s/seed |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n_subjects in args.subjects:
        for n_relations in args.relations:
            d = proven_dimension(
                n_subjects, n_relations, layout="superposed", codebook=args.codebook
            )
            margins, successes, seconds = [], 0, []
            for seed in range(args.seeds):
                start = time.perf_counter()
                construction = construct_single_hop(
                    n_subjects,
                    n_relations,
                    d,
                    layout="superposed",
                    codebook=args.codebook,
                    seed=seed,
                )
                report = construction.recall()
                seconds.append(time.perf_counter() - start)
                margins.append(report.min_margin)
                successes += report.all_correct
                print(
                    f"  N={n_subjects} R={n_relations} seed={seed}: "
                    f"{report.n_correct}/{report.n_facts}, margin {report.min_margin:.4f}",
                    file=sys.stderr,
                    flush=True,
                )
            row = {
                "n_subjects": n_subjects,
                "n_relations": n_relations,
                "d": d,
                "code_length": construction.codebook.code_length,
                "seeds": args.seeds,
                "successes": successes,
                "min_margin": min(margins),
                "median_margin": statistics.median(margins),
                "seconds_per_seed": statistics.mean(seconds),
            }
            rows.append(row)
            print(
                f"| {n_subjects} | {n_relations} | {d} | {row['code_length']} | {args.seeds} | "
                f"{successes}/{args.seeds} | {row['min_margin']:.4f} | "
                f"{row['median_margin']:.4f} | {row['seconds_per_seed']:.1f} |",
                flush=True,
            )
    if args.json_path:
        with open(args.json_path, "w") as handle:
            json.dump(rows, handle, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
