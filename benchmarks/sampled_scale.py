"""Sampled recall at N = 2^20: the paper's construction built and measured on one machine.

Builds the default construction (gaussian codes, superposed, read out in place) at its
``proven_dimension`` in float32, runs ``recall(sample=n, seed=s)`` — the forward pass on a seeded
uniform sample of n queries, with a Clopper–Pearson 95 % interval — and times, in the same
process, the reference: the float32 matrix product the unembedding cannot avoid,
``[n, k] @ [k, N]`` over the construction's own ``W_U`` block (random inputs, the same row
blocks and column tiles as the pass). Prints one Markdown table row.

Usage::

    python benchmarks/sampled_scale.py                       # N = 2^20, R = 4, 10,000 queries
    python benchmarks/sampled_scale.py --subjects 65536 --sample 2000
    python benchmarks/sampled_scale.py --d predicted          # at predicted_min_dimension

The row is ``sampled``: beside the interval it gives the exact 95 % upper bound on the number of
failing facts, and the work an every-fact check of the same construction would cost
(``N·R · d_vocab · d`` multiply-adds).

Needs about 15 GiB at N = 2^20, R = 4 (``--memory-budget`` is what the library may plan for; its
estimate counts the zero pages of ``W_E`` and ``W_U`` that are never touched).
"""

from __future__ import annotations

import argparse
import platform
import resource
import time

import numpy as np

from geoconstruct import (
    __version__,
    construct_single_hop,
    predicted_min_dimension,
    proven_dimension,
)
from geoconstruct.model.linear_maps import linear_maps
from geoconstruct.verification.evaluation import UNEMBEDDING_ROWS, unembedding_tile
from geoconstruct.verification.policy import exact_work, failing_upper_bound


def _peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def _reference_seconds(construction, n_prompts: int) -> float:
    """The unembedding's product alone: ``[n, k] @ W_U[output, attributes]``, tile by tile."""
    unembed = linear_maps(construction.weights, construction.config)["unembed.W_U"]
    block = unembed.block  # [k, N], a view of W_U
    rng = np.random.default_rng(0)
    inputs = rng.standard_normal((UNEMBEDDING_ROWS, block.shape[0]), dtype=np.float32)
    width = unembedding_tile(construction.config)
    buffer = np.empty((UNEMBEDDING_ROWS, width), np.float32)
    start = time.perf_counter()
    for first in range(0, n_prompts, UNEMBEDDING_ROWS):
        rows = inputs[: min(UNEMBEDDING_ROWS, n_prompts - first)]
        for column in range(0, block.shape[1], width):
            tile = block[:, column : column + width]
            np.matmul(rows, tile, out=buffer[: rows.shape[0], : tile.shape[1]])
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=2**20, help="N")
    parser.add_argument("--relations", type=int, default=4, help="R")
    parser.add_argument("--sample", type=int, default=10_000, help="queries in the sample")
    parser.add_argument("--seed", type=int, default=0, help="construction and sample seed")
    parser.add_argument("--memory-budget", type=int, default=24 * 2**30, help="bytes")
    parser.add_argument(
        "--d", default="proven", help="'proven' (default), 'predicted' or a dimension"
    )
    args = parser.parse_args()

    if args.d == "proven":
        d = proven_dimension(args.subjects, args.relations)
    elif args.d == "predicted":
        d = predicted_min_dimension(args.subjects, args.relations)
    else:
        d = int(args.d)
    start = time.perf_counter()
    construction = construct_single_hop(
        args.subjects,
        args.relations,
        d,
        seed=args.seed,
        dtype="float32",
        memory_budget=args.memory_budget,
    )
    built = time.perf_counter()
    report = construction.recall(sample=args.sample, seed=args.seed)
    measured = time.perf_counter()
    reference = _reference_seconds(construction, args.sample)
    low, high = report.accuracy_interval
    print(
        f"geoconstruct {__version__}, `python benchmarks/sampled_scale.py --subjects "
        f"{args.subjects} --relations {args.relations} --sample {args.sample} --d {args.d}` on "
        f"{platform.system()} {platform.machine()}, python {platform.python_version()}\n"
    )
    print(
        "| N | R | d | guarantee δ | build s | basis | sample | correct | accuracy 95 % interval "
        "| failing facts <= | every-fact work | sampled recall s | GEMM reference s "
        "| reference / recall | peak RSS GiB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    total = construction.total_queries
    failing = failing_upper_bound(report.n_queries, total) * total
    delta = construction.guarantee.failure_probability
    print(
        f"| {args.subjects:,} | {args.relations} | {d} "
        f"| {'—' if delta is None else f'{delta:g}'} | {built - start:.1f} | sampled "
        f"| {report.n_queries:,} | {report.n_correct:,} | [{low:.5f}, {high:.5f}] "
        f"| {failing:,.0f} | {exact_work(construction):.2e} "
        f"| {measured - built:.1f} | {reference:.1f} | {reference / (measured - built):.2f} "
        f"| {_peak_gib():.1f} |"
    )


if __name__ == "__main__":
    main()
