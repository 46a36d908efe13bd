"""The one forward pass on torch tensors beside it on numpy arrays, and a matrix product.

For each size: build the default construction at its predicted min d in float32, run exact
recall over every fact with ``backend="numpy"`` and with ``backend="torch"`` on ``--device``,
check that both report the same facts, and time the reference: the float32 matrix product
``[N·R, d_model] @ [d_model, d_vocab]`` (the unembedding of every prompt, the least work any
argmax over the vocabulary must do) in torch on the same device, in blocks of 4,096 rows. Prints
facts per second, torch's speed-up over numpy, and each pass's throughput as a share of the
reference's (reference time / pass time).

Usage::

    python benchmarks/torch_backend.py                         # N = 4,096, R = 4, on the cpu
    python benchmarks/torch_backend.py --subjects 16384 --relations 8 --device cuda
"""

from __future__ import annotations

import argparse
import json
import time

from geoconstruct import construct_single_hop
from geoconstruct.analysis.theory.prediction import predicted_min_dimension
from geoconstruct.model.backends import require_torch


def _int_list(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part]


def _gemm_seconds(n_rows: int, d_model: int, d_vocab: int, device: str) -> float:
    torch = require_torch()
    generator = torch.Generator(device=device).manual_seed(0)
    prompts = torch.randn(4096, d_model, generator=generator, device=device)
    unembed = torch.randn(d_model, d_vocab, generator=generator, device=device)
    out = torch.empty(4096, d_vocab, device=device)
    torch.matmul(prompts, unembed, out=out)  # warm up
    _synchronise(device)
    start = time.perf_counter()
    for first in range(0, n_rows, 4096):
        rows = min(4096, n_rows - first)
        torch.matmul(prompts[:rows], unembed, out=out[:rows])
    _synchronise(device)
    return time.perf_counter() - start


def _synchronise(device: str) -> None:
    if device == "cuda":
        require_torch().cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=_int_list, default=[4096])
    parser.add_argument("--relations", type=_int_list, default=[4])
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--skip-numpy", action="store_true", help="time only the torch pass")
    parser.add_argument("--json", default=None, help="also write the rows to this file")
    args = parser.parse_args()
    rows = []
    print(
        "| N | R | d | facts | numpy s | torch s | torch / numpy speed | "
        "numpy / GEMM | torch / GEMM | same report |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for n_subjects in args.subjects:
        for n_relations in args.relations:
            d = predicted_min_dimension(n_subjects, n_relations)
            construction = construct_single_hop(n_subjects, n_relations, d, seed=0, dtype="float32")
            config, n_facts = construction.config, n_subjects * n_relations
            numpy_seconds = numpy_report = None
            if not args.skip_numpy:
                start = time.perf_counter()
                numpy_report = construction.recall()
                numpy_seconds = time.perf_counter() - start
            construction.recall(sample=min(n_facts, 1000), backend="torch", device=args.device)
            start = time.perf_counter()
            torch_report = construction.recall(backend="torch", device=args.device)
            torch_seconds = time.perf_counter() - start
            gemm = _gemm_seconds(n_facts, config.d_model, config.d_vocab, args.device)
            same = (
                numpy_report is None
                or (  # the same count and the same failing queries
                    (numpy_report.n_correct, [f[:3] for f in numpy_report.failures])
                    == (torch_report.n_correct, [f[:3] for f in torch_report.failures])
                )
            )
            assert same, "the torch pass reported other facts than the numpy pass"
            row = {
                "n_subjects": n_subjects,
                "n_relations": n_relations,
                "d": d,
                "n_facts": n_facts,
                "device": args.device,
                "numpy_seconds": numpy_seconds,
                "torch_seconds": torch_seconds,
                "gemm_seconds": gemm,
                "n_correct": torch_report.n_correct,
            }
            rows.append(row)
            numpy_cells = (
                ["—", "—", "—"]
                if numpy_seconds is None
                else [
                    f"{numpy_seconds:.2f}",
                    f"{numpy_seconds / torch_seconds:.2f}",
                    f"{gemm / numpy_seconds:.2f}",
                ]
            )
            print(
                f"| {n_subjects:,} | {n_relations} | {d} | {n_facts:,} | {numpy_cells[0]} | "
                f"{torch_seconds:.2f} | {numpy_cells[1]} | {numpy_cells[2]} | "
                f"{gemm / torch_seconds:.2f} | {same} |",
                flush=True,
            )
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(rows, handle, indent=2)


if __name__ == "__main__":
    main()
