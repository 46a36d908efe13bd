"""One memory plan (constructions/memory.py): for every recipe, layout and codebook, the peak
that tracemalloc measures while the construction is built is at most the plan's total, and the
total is at most 1.5 times the peak plus 64 MiB (an estimate that refuses work it could do is a
bug too)."""

import gc
import tracemalloc

import pytest

from geoconstruct import (
    construct_baseline,
    construct_disjoint,
    construct_multi_hop,
    construct_single_hop,
    disjoint_dimension,
    multi_hop_dimension,
)
from geoconstruct.codes.registry import resolve_codebook
from geoconstruct.constructions import baselines, disjoint, multi_hop, single_hop_sizes
from geoconstruct.constructions.single_hop_sizes import proven_dimension, required_dimension

N, R = 6000, 4
SINGLE_HOP = [
    (layout, codebook)
    for layout in ("superposed", "block", "superposed_separate", "block_separate")
    for codebook in ("gaussian", "rademacher", "bch", "grid")
    if not (layout.startswith("superposed") and codebook == "grid")
]


def single_hop_case(layout, codebook, relations, d):
    options = dict(layout=layout, codebook=codebook, dtype="float32")
    plan = single_hop_sizes.memory_plan(N, relations, d, **options)
    return plan, lambda: construct_single_hop(N, relations, d, **options)


def cases():
    for layout, codebook in SINGLE_HOP:
        # superposed trace codes for R = 4 are 4,095 long at this N (gigabytes): R = 2 (511)
        relations = 2 if layout.startswith("superposed") and codebook == "bch" else R

        def case(layout=layout, codebook=codebook, relations=relations):
            d = proven_dimension(N, relations, layout=layout, codebook=codebook)
            return single_hop_case(layout, codebook, relations, d)

        yield f"single_hop-{layout}-{codebook}", case

    def below_the_proof():  # codes drawn once, unchecked
        return single_hop_case("superposed", "gaussian", R, required_dimension(N, R) + 40)

    yield "single_hop-below-the-proof", below_the_proof
    for codebook in ("grid", "gaussian", "bch"):

        def disjoint_case(codebook=codebook):
            d = disjoint_dimension(3000, R, codebook=codebook)
            plan = disjoint.memory_plan(resolve_codebook(codebook), 3000, R, d, "float64")
            return plan, lambda: construct_disjoint(3000, R, d, codebook=codebook)

        yield f"disjoint-{codebook}", disjoint_case
    for kind in ("key_value", "outer_product"):
        for codebook in ("grid", "gaussian"):

            def baseline_case(kind=kind, codebook=codebook):
                plan = baselines.memory_plan(resolve_codebook(codebook), 3000, R, kind, "float64")
                return plan, lambda: construct_baseline(3000, R, kind, codebook=codebook)

            yield f"baseline-{kind}-{codebook}", baseline_case
    for codebook in ("grid", "gaussian"):

        def multi_hop_case(codebook=codebook):
            family = resolve_codebook(codebook)
            d = multi_hop_dimension(2000, R, 2, 1, codebook=codebook)
            code_length = multi_hop._code_length_at(R, 2, d)
            plan = multi_hop.memory_plan(family, 2000, R, 2, d, code_length, "float64")
            return plan, lambda: construct_multi_hop(2000, R, 2, 1, d, codebook=codebook)

        yield f"multi_hop-{codebook}", multi_hop_case


CASES = dict(cases())


@pytest.mark.parametrize("case", list(CASES))
def test_the_measured_peak_is_within_the_plan(case):
    plan, build = CASES[case]()
    gc.collect()
    tracemalloc.start()
    try:
        construction = build()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert construction.config.d_model > 0
    assert peak <= plan.total <= 1.5 * peak + 64 * 2**20, (peak, plan)
