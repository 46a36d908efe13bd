import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from geoconstruct import Facts, random_facts


@given(
    n_subjects=st.integers(1, 500),
    n_relations=st.integers(1, 16),
    seed=st.integers(0, 2**32 - 1),
)
def test_random_facts_are_permutations(n_subjects, n_relations, seed):
    facts = random_facts(n_subjects, n_relations, seed)
    assert facts.permutations.shape == (n_relations, n_subjects)
    for row in facts.permutations:
        assert sorted(row.tolist()) == list(range(n_subjects))
    assert facts.n_facts == n_subjects * n_relations


@given(seed=st.integers(0, 2**32 - 1))
def test_same_seed_same_facts_and_different_seeds_differ(seed):
    assert random_facts(200, 3, seed) == random_facts(200, 3, seed)
    # Two independent draws of 3 permutations of 200 coincide with probability (1/200!)^3.
    assert random_facts(200, 3, seed) != random_facts(200, 3, seed + 1)


def test_answer_reads_the_permutation():
    facts = Facts([[2, 0, 1], [1, 2, 0]])
    assert facts.answer([0, 1, 2], [0, 0, 0]).tolist() == [2, 0, 1]
    assert int(facts.answer(2, 1)) == 0


def test_facts_are_read_only():
    facts = random_facts(10, 2, 0)
    with pytest.raises(ValueError):
        facts.permutations[0, 0] = 5


@pytest.mark.parametrize(
    ("table", "error", "message"),
    [
        ([[0, 0, 1]], ValueError, "not a permutation"),
        ([[0, 1, 3]], ValueError, "not a permutation"),
        ([0, 1, 2], ValueError, "2-d"),
        (np.zeros((0, 3), int), ValueError, "non-empty"),
        ([[0.0, 1.0]], TypeError, "integers"),
    ],
)
def test_invalid_tables_are_refused(table, error, message):
    with pytest.raises(error, match=message):
        Facts(table)


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"n_subjects": 0, "n_relations": 2}, ValueError, "n_subjects"),
        ({"n_subjects": 5, "n_relations": 0}, ValueError, "n_relations"),
        ({"n_subjects": 5.0, "n_relations": 2}, TypeError, "n_subjects"),
        ({"n_subjects": "5", "n_relations": 2}, TypeError, "n_subjects"),
        ({"n_subjects": 5, "n_relations": True}, TypeError, "n_relations"),
    ],
)
def test_random_facts_validates_sizes(kwargs, error, name):
    with pytest.raises(error, match=name):
        random_facts(**kwargs)
