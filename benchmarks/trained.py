"""Trained weights beside the construction: recall, superposition, intervention, transfer.

For every size (N, R) and every d, train the construction's architecture from scratch twice
(``geoconstruct.training``: free embeddings, then the frozen-embedding control) and read both with
the library's probes; add the paper's construction at its proved d, read the same way. Prints one
Markdown table (``docs/results/trained.md`` holds its output) and, with ``--json``, writes the
rows. Needs the ``train`` extra (torch).

Usage::

    python benchmarks/trained.py --subjects 256,1024 --relations 2,4 --dims 32,64
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time

from geoconstruct import __version__
from geoconstruct.analysis.output.tables import render_table
from geoconstruct.training.comparison import construction_row, trained_row


def _int_list(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=_int_list, default=[256, 1024], help="N list")
    parser.add_argument("--relations", type=_int_list, default=[2, 4], help="R list")
    parser.add_argument("--dims", type=_int_list, default=[32, 64], help="d list (trained)")
    parser.add_argument("--seed", type=int, default=0, help="seed of facts and initialisation")
    parser.add_argument("--json", dest="json_path", default=None, help="also write rows here")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    rows = []
    for n_subjects in args.subjects:
        for n_relations in args.relations:
            for d in args.dims:
                for frozen in (False, True):
                    rows.append(
                        trained_row(
                            n_subjects, n_relations, d, seed=args.seed, freeze_embeddings=frozen
                        )
                    )
                    print(
                        f"  {rows[-1].model}, N={n_subjects} R={n_relations} d={d}: "
                        f"{rows[-1].seconds:.1f} s",
                        file=sys.stderr,
                        flush=True,
                    )
            rows.append(construction_row(n_subjects, n_relations, seed=args.seed))
    print(
        f"geoconstruct {__version__}, `python benchmarks/trained.py` on {platform.system()} "
        f"{platform.machine()}, python {platform.python_version()}\n"
    )
    print(render_table(rows), end="")
    print(f"\n{len(rows)} rows in {time.perf_counter() - start:.0f} s")
    if args.json_path:
        with open(args.json_path, "w") as handle:
            json.dump([row.as_dict() for row in rows], handle, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
