"""The mub family (codes/codebooks.py), added through the codebook protocol alone: two
mutually unbiased bases, whose coherence beats random codes of the same length, and which every
part of the library takes by name (the registry, the layouts, recall, the command line, files)."""

import math
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geoconstruct import construct_single_hop, proven_dimension
from geoconstruct.codes.codebooks import GaussianCodes, MUBCodes, coherence
from geoconstruct.codes.registry import CODEBOOK_NAMES, resolve_codebook
from geoconstruct.io import load, save


@settings(max_examples=30, deadline=None)
@given(n_codes=st.integers(1, 600), extra=st.integers(0, 40))
def test_the_codes_are_unit_distinct_and_as_coherent_as_claimed(n_codes, extra):
    family = MUBCodes()
    order = family.min_code_length(n_codes)
    book = family.build(n_codes, order + extra, np.random.default_rng(0))
    assert np.allclose(np.linalg.norm(book.codes, axis=1), 1.0)
    assert len({row.tobytes() for row in book.codes}) == n_codes
    used = 1 << int(math.log2(order + extra))  # the longest order that fits the length
    used = used if n_codes <= 2 * used else order
    expected = 0.0 if n_codes <= used else used**-0.5  # the two bases are mutually unbiased
    assert coherence(book.codes) == pytest.approx(expected, abs=1e-12)
    assert coherence(book.codes) <= family.coherence_bound
    assert order >= n_codes / 2 and (order == 1 or order < 2 * n_codes)


def test_its_coherence_beats_gaussian_codes_of_the_same_length():
    n_codes, length = 128, 64
    mub = MUBCodes().build(n_codes, length, np.random.default_rng(0)).coherence()
    drawn = [
        GaussianCodes().build(n_codes, length, np.random.default_rng(seed), coherent=False)
        for seed in range(20)
    ]
    assert mub == pytest.approx(0.125)
    assert min(book.coherence() for book in drawn) > 3 * mub


@pytest.mark.parametrize("layout", ["block", "block_separate"])
def test_the_block_layouts_recall_every_fact_with_margin_one_minus_mu(layout):
    d = proven_dimension(100, 3, layout=layout, codebook="mub")
    construction = construct_single_hop(100, 3, d, layout=layout, codebook="mub", seed=4)
    assert construction.metadata.guarantee.scope == "every_draw"
    margins = construction.margins()  # every query, through the forward pass
    assert margins.min() >= 1 - 1 / math.sqrt(construction.codebook.code_length) - 1e-9


def test_the_superposed_layout_refuses_it_and_names_why():
    with pytest.raises(ValueError, match="inner-product law"):
        construct_single_hop(100, 3, 200, codebook="mub")


def test_it_is_registered_saved_and_reached_from_the_command_line(tmp_path):
    assert "mub" in CODEBOOK_NAMES and resolve_codebook("mub") == MUBCodes()
    construction = construct_single_hop(50, 2, 66, layout="block", codebook="mub")
    save(construction, tmp_path / "codes.npz")
    assert load(tmp_path / "codes.npz").recall().accuracy == 1.0
    command = [sys.executable, "-m", "geoconstruct", "construct", "--subjects", "50"]
    command += ["--relations", "2", "--layout", "block", "--codebook", "mub"]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "100 / 100 facts" in result.stdout
