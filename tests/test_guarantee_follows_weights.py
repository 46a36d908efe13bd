"""A construction's guarantee follows its weights: swapping the facts or the weights keeps it only
where a with_… method restates it, and says why it was dropped otherwise."""

import dataclasses

import numpy as np
import pytest

from geoconstruct import construct_single_hop, proven_dimension, random_facts
from geoconstruct.analysis.measurement.precision import quantize_construction
from geoconstruct.analysis.mechanism.transfer import reinitialize


@pytest.fixture(scope="module")
def proved():
    construction = construct_single_hop(200, 2, proven_dimension(200, 2), seed=0)
    assert construction.guarantee.proved
    return construction


def test_a_swap_by_dataclasses_replace_drops_the_guarantee(proved):
    new_facts, b_U = random_facts(200, 2, seed=9), proved.weights["unembed.b_U"]
    assert dataclasses.replace(proved, seed=1).guarantee == proved.guarantee  # nothing swapped
    for swapped in (
        dataclasses.replace(proved, facts=new_facts),
        # even an equal copy: only a with_… method compares the arrays
        dataclasses.replace(proved, weights={**proved.weights, "unembed.b_U": np.array(b_U)}),
        dataclasses.replace(
            proved, weights={**proved.weights, "unembed.b_U": proved.weights["unembed.b_U"] + 1}
        ),
    ):
        assert swapped.guarantee.scope == "none"
        assert "swapped after the proof" in swapped.guarantee.statement


def test_with_weights_keeps_it_for_identical_arrays_and_drops_it_otherwise(proved):
    copied = {name: np.array(array) for name, array in proved.weights.items()}
    assert proved.with_weights(copied, change="a copy").guarantee == proved.guarantee
    changed = dict(copied)
    changed["blocks.0.mlp.b_in"] = changed["blocks.0.mlp.b_in"] + 1e-3
    dropped = proved.with_weights(changed, change="a nudged bias").guarantee
    assert dropped.scope == "none" and "a nudged bias" in dropped.statement
    with pytest.raises(ValueError, match="shape"):
        proved.with_weights({**copied, "unembed.b_U": np.zeros(3)}, change="wrong")


def test_with_facts_is_a_stale_model(proved):
    stale = proved.with_facts(random_facts(200, 2, seed=4), change="new facts")
    assert stale.guarantee.scope == "none" and "not built for these facts" in (
        stale.guarantee.statement
    )
    assert stale.weights is proved.weights


def test_reinitialize_restates_and_a_later_swap_still_drops(proved):
    moved = reinitialize(proved, random_facts(200, 2, seed=5))
    assert moved.guarantee.scope == proved.guarantee.scope
    assert "restated by reinitialize" in moved.guarantee.statement
    assert moved.recall().all_correct
    again = dataclasses.replace(moved, facts=proved.facts)
    assert again.guarantee.scope == "none"


def test_quantisation_restates_through_the_subject_rows(proved):
    rounded = quantize_construction(proved, "int4")  # unit codes in 4 bits: rounding changes them
    assert rounded.guarantee.scope == "none" and "int4" in rounded.guarantee.statement
