"""Throughput of construction and exact recall, beside a plain BLAS reference in the same run.

For each size: build the construction at ``proven_dimension`` in ``--dtype``, run ``recall()``
over all N·R facts, and time the reference — the matrix product ``[N·R, d_model] @ [d_model,
d_vocab]`` in the same dtype (the unembedding of every prompt, the least work any exact argmax over
the vocabulary must do), run over the same chunks as recall into one reused output buffer.
Prints facts per second, the forward pass's speed as a share of the reference's (reference time /
recall time), and the process's peak resident memory so far.

Usage::

    python benchmarks/recall_throughput.py        # N=10,000, R=8, the default construction, float32
    python benchmarks/recall_throughput.py --subjects 2000,10000 --relations 4,8 --json out.json
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import numpy as np

from geoconstruct import (
    Construction,
    RecallReport,
    construct_single_hop,
    proven_dimension,
)
from geoconstruct.constructions.layouts import LAYOUTS
from geoconstruct.constructions.single_hop_sizes import DEFAULT_CODEBOOK, DEFAULT_LAYOUT
from geoconstruct.verification.evaluation import CHUNK_BYTES, chunk_size


def _int_list(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part]


def _timed_recall(construction: Construction, repeats: int) -> tuple[float, RecallReport]:
    timings, reports = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        reports.append(construction.recall())
        timings.append(time.perf_counter() - start)
    return min(timings), reports[-1]


def _timed_reference(construction: Construction, n_prompts: int, repeats: int) -> float:
    """Best time of the forward pass's matrix products alone, same shapes and chunks as recall:
    the MLP's ``[n, d] @ [d, d_mlp]`` and ``[n, d_mlp] @ [d_mlp, d]`` and the unembedding's
    ``[n, d] @ [d, d_vocab]``, into reused buffers."""
    config = construction.config
    rng = np.random.default_rng(0)
    chunk = chunk_size(config, CHUNK_BYTES)
    dtype = np.dtype(config.dtype)
    prompts = rng.standard_normal((n_prompts, config.d_model)).astype(dtype)
    w_in = rng.standard_normal((config.d_model, config.d_mlp)).astype(dtype)
    w_out = rng.standard_normal((config.d_mlp, config.d_model)).astype(dtype)
    unembed = rng.standard_normal((config.d_model, config.d_vocab)).astype(dtype)
    hidden = np.empty((chunk, config.d_mlp), dtype=dtype)
    residual = np.empty((chunk, config.d_model), dtype=dtype)
    logits = np.empty((chunk, config.d_vocab), dtype=dtype)
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        for first in range(0, n_prompts, chunk):
            block = prompts[first : first + chunk]
            rows = block.shape[0]
            np.matmul(block, w_in, out=hidden[:rows])
            np.matmul(hidden[:rows], w_out, out=residual[:rows])
            np.matmul(residual[:rows], unembed, out=logits[:rows])
        timings.append(time.perf_counter() - start)
    return min(timings)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=_int_list, default=[10_000])
    parser.add_argument("--relations", type=_int_list, default=[4])
    parser.add_argument("--layout", default=DEFAULT_LAYOUT, choices=tuple(LAYOUTS))
    parser.add_argument(
        "--codebook", default=DEFAULT_CODEBOOK, choices=["grid", "gaussian", "rademacher"]
    )
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", dest="json_path", default=None)
    args = parser.parse_args(argv)

    rows = []
    print(
        "| N | R | d | facts | construct s | recall s | facts/s | BLAS reference s "
        "| speed / reference | recalled | peak RSS MiB |"
    )
    print("|---" * 11 + "|")
    for n_subjects in args.subjects:
        for n_relations in args.relations:
            d = proven_dimension(
                n_subjects, n_relations, layout=args.layout, codebook=args.codebook
            )
            start = time.perf_counter()
            construction = construct_single_hop(
                n_subjects,
                n_relations,
                d,
                layout=args.layout,
                codebook=args.codebook,
                seed=0,
                dtype=args.dtype,
            )
            construct_seconds = time.perf_counter() - start
            recall_seconds, report = _timed_recall(construction, args.repeats)
            reference_seconds = _timed_reference(construction, report.n_facts, args.repeats)
            peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            row = {
                "n_subjects": n_subjects,
                "n_relations": n_relations,
                "d": d,
                "n_facts": report.n_facts,
                "n_correct": report.n_correct,
                "construct_seconds": construct_seconds,
                "recall_seconds": recall_seconds,
                "facts_per_second": report.n_facts / recall_seconds,
                "reference_seconds": reference_seconds,
                "dtype": args.dtype,
                "speed_to_reference": reference_seconds / recall_seconds,
                "peak_rss_mib": peak_mib,
            }
            rows.append(row)
            print(
                f"| {n_subjects} | {n_relations} | {d} | {report.n_facts} | "
                f"{construct_seconds:.3f} | {recall_seconds:.2f} | "
                f"{row['facts_per_second']:,.0f} | {reference_seconds:.2f} | "
                f"{row['speed_to_reference']:.0%} | {report.n_correct}/{report.n_facts} | "
                f"{peak_mib:.0f} |",
                flush=True,
            )
    if args.json_path:
        with open(args.json_path, "w") as handle:
            json.dump(rows, handle, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
