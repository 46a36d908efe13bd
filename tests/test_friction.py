"""The day-to-day friction a new user met (issue 24, point 4), each fixed and held by a test."""

import os
import stat

import numpy as np
import pytest

from geoconstruct import construct_single_hop, proven_dimension
from geoconstruct.io import load, save


def test_save_refuses_a_suffix_it_would_not_honour_and_writes_nothing(tmp_path):
    construction = construct_single_hop(50, 2, 60, seed=1)
    for name in ("x.pt", "noext", "x.npy"):
        with pytest.raises(ValueError, match=r"the suffix must be one of \.npz, \.safetensors"):
            save(construction, tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_save_names_a_missing_folder_not_a_temporary_file(tmp_path):
    construction = construct_single_hop(50, 2, 60, seed=1)
    with pytest.raises(ValueError, match=r"the folder .*missing does not exist") as error:
        save(construction, tmp_path / "missing" / "x.npz")
    assert ".tmp" not in str(error.value)


def test_saved_files_follow_the_umask(tmp_path):
    construction = construct_single_hop(50, 2, 60, seed=1)
    previous = os.umask(0o022)
    try:
        written = save(construction, tmp_path / "x.npz")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(written.stat().st_mode) == 0o644  # what open() gives under umask 022
    assert (
        load(written).recall().accuracy == construct_single_hop(50, 2, 60, seed=1).recall().accuracy
    )


@pytest.mark.parametrize("dtype", [np.float32, np.dtype("float32"), "float32"])
def test_a_dtype_is_accepted_as_numpy_spells_it(dtype):
    construction = construct_single_hop(50, 2, 60, seed=1, dtype=dtype)
    assert construction.config.dtype == "float32"
    assert construction.weights["embed.W_E"].dtype == np.float32


def test_a_numpy_dtype_that_is_not_offered_is_refused_by_name():
    with pytest.raises(ValueError, match="dtype must be one of 'float64', 'float32'; got 'int8'"):
        construct_single_hop(50, 2, 60, dtype=np.int8)


@pytest.mark.parametrize(("layout", "codebook"), [("superposed", "gaussian"), ("block", "grid")])
def test_no_d_means_the_proved_dimension(layout, codebook):
    built = construct_single_hop(200, 3, layout=layout, codebook=codebook, seed=2)
    assert built.config.d_model == proven_dimension(200, 3, layout=layout, codebook=codebook)
    assert built.guarantee.proved


def test_a_recipe_whose_defaults_differ_from_the_single_hop_ones_says_so():
    import inspect

    from geoconstruct import (
        construct_baseline,
        construct_disjoint,
        construct_multi_hop,
        disjoint_dimension,
        multi_hop_dimension,
    )

    single_hop = inspect.signature(construct_single_hop).parameters["codebook"].default
    recipes = [
        construct_baseline,
        construct_disjoint,
        construct_multi_hop,
        disjoint_dimension,
        multi_hop_dimension,
    ]
    differing = [
        recipe
        for recipe in recipes
        if inspect.signature(recipe).parameters["codebook"].default != single_hop
    ]
    assert differing == recipes  # today every one of them defaults to grid codes
    for recipe in differing:
        text = " ".join(inspect.getdoc(recipe).split())
        assert "unlike :func:`construct_single_hop`" in text, recipe.__name__


def test_min_dimension_lists_its_options():
    import inspect

    from geoconstruct.analysis.measurement.dimension_search import SearchOptions, min_dimension

    text = inspect.getdoc(min_dimension)
    for option in SearchOptions.__annotations__:
        assert option in text, option


def test_a_min_d_search_reports_each_check_as_it_finishes():
    """measure_min_dimension(1000, 4) ran 91 s silently; each check now reaches ``progress``."""
    from geoconstruct.analysis.measurement.dimension_search import measure_min_dimension

    checks = []
    found = measure_min_dimension(300, 2, seeds=(0, 1, 2), progress=checks.append)
    assert len(checks) == found.n_checks >= 2
    assert sum(check.verdict.multiply_adds for check in checks) == found.multiply_adds
    passed_at_min = [c for c in checks if c.code_length == found.code_length]
    assert {c.seed for c in passed_at_min} == {0, 1, 2} and all(c.passed for c in passed_at_min)
    assert any(not c.passed and c.code_length == found.code_length - 1 for c in checks)
