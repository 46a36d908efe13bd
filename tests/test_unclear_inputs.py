"""The audit's unclear inputs (issue 29), in the library: each refused with a message that names
the argument, before any work, and nothing changed."""

import re

import pytest

from geoconstruct import construct_single_hop, predicted_accuracy
from geoconstruct.codes.codebooks import GaussianCodes, RademacherCodes
from geoconstruct.constructions.superposed_bound import (
    INNER_PRODUCT_LAWS,
    pair_failure,
    superposed_code_length,
    superposed_failure_bound,
)
from geoconstruct.io import save


def test_inner_products_takes_exactly_the_documented_laws():
    assert INNER_PRODUCT_LAWS == ("sphere", "signs")
    for function, arguments in (
        (superposed_failure_bound, (64, 2, 45)),
        (superposed_code_length, (64, 2)),
        (pair_failure, (45, 2)),
    ):
        with pytest.raises(ValueError, match=r"inner_products must be one of .*'rademacher'"):
            function(*arguments, inner_products="rademacher")
    # the two laws differ: rademacher codes' discrete inner products are not the sphere's
    assert superposed_failure_bound(64, 2, 45, inner_products="signs") != superposed_failure_bound(
        64, 2, 45, inner_products="sphere"
    )


@pytest.mark.parametrize("family", [GaussianCodes(max_coherence=0.3), RademacherCodes(0.4)])
def test_a_coherence_bound_the_superposed_theorem_ignores_is_refused(family):
    with pytest.raises(
        ValueError, match=r"max_coherence=0\.[34] \(--max-coherence\) has no effect"
    ):
        construct_single_hop(100, 3, codebook=family)
    # where it does take effect it is taken: R = 1 (coherence-checked codes), and the block layout
    shorter = construct_single_hop(100, 1, codebook=GaussianCodes(max_coherence=0.9))
    longer = construct_single_hop(100, 1, codebook=GaussianCodes(max_coherence=0.3))
    assert shorter.config.d_model < longer.config.d_model
    block = construct_single_hop(100, 3, layout="block", codebook=family)
    assert block.codebook.coherence() <= family.max_coherence


def test_predicted_accuracy_refuses_a_d_the_builder_refuses():
    with pytest.raises(ValueError, match=r"d=2 cannot be assembled .* the smallest d is 5"):
        predicted_accuracy(1000, 4, 2)
    with pytest.raises(ValueError, match="requires d >= 5"):
        construct_single_hop(1000, 4, 4)
    assert 0.0 <= predicted_accuracy(1000, 4, 5) <= 1.0


def test_predict_refuses_lengths_that_do_not_match():
    construction = construct_single_hop(50, 2, seed=0)
    with pytest.raises(ValueError, match=re.escape("same length (or one be a single id")):
        construction.predict([0, 1], [0])
    with pytest.raises(ValueError, match=re.escape("got (2, 2) and (3,)")):
        construction.predict([[0, 1], [1, 0]], [0, 1, 1])
    facts = construction.facts
    assert construction.predict([0, 1], 1).tolist() == [facts.answer(s, 1) for s in (0, 1)]
    assert construction.predict(3, [0, 1]).tolist() == [facts.answer(3, r) for r in (0, 1)]


def test_saving_to_a_folder_says_it_is_a_folder(tmp_path):
    construction = construct_single_hop(20, 2, seed=0)
    with pytest.raises(ValueError, match=r"it is a folder; give a file name in it ending in \.npz"):
        save(construction, tmp_path)
    assert list(tmp_path.iterdir()) == []
