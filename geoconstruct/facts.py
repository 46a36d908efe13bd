"""Facts: R random bijections ``π_r : [N] → [N]``, one per relation.

A query ``(s, r)`` asks for the attribute ``π_r(s)``; there are ``N·R`` facts, drawn from a
seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from geoconstruct._validation import InputTypeError, require_int

__all__ = ["Facts", "SeedStreams", "generator", "random_facts", "require_facts", "seed_streams"]

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class Facts:
    """R bijections over N subjects, stored as ``permutations[r, s] = π_r(s)``.

    Parameters
    ----------
    permutations : array_like of int, shape [n_relations, n_subjects]
        Row ``r`` is a permutation of ``0 … n_subjects-1`` (copied, read-only).

    Raises
    ------
    ValueError
        If the array is not two-dimensional, is empty, or a row is not a permutation.

    Examples
    --------
    >>> facts = Facts([[1, 0, 2], [2, 1, 0]])
    >>> facts.n_subjects, facts.n_relations, facts.n_facts
    (3, 2, 6)
    >>> int(facts.answer(0, 1))
    2
    """

    permutations: IntArray

    def __init__(self, permutations: npt.ArrayLike) -> None:
        table = np.asarray(permutations)
        if table.ndim != 2 or table.shape[0] == 0 or table.shape[1] == 0:
            raise ValueError(
                "permutations must be a non-empty 2-d array [n_relations, n_subjects], "
                f"got shape {table.shape}"
            )
        if not np.issubdtype(table.dtype, np.integer):
            raise InputTypeError(f"permutations must hold integers, got dtype {table.dtype}")
        table = table.astype(np.int64, copy=True)
        identity = np.arange(table.shape[1])
        for relation, row in enumerate(table):
            if not np.array_equal(np.sort(row), identity):
                raise ValueError(
                    f"permutations[{relation}] is not a permutation of 0..{table.shape[1] - 1}"
                )
        table.flags.writeable = False
        object.__setattr__(self, "permutations", table)

    @property
    def n_subjects(self) -> int:
        """N, the number of subjects (and of attributes)."""
        return int(self.permutations.shape[1])

    @property
    def n_relations(self) -> int:
        """R, the number of relations."""
        return int(self.permutations.shape[0])

    @property
    def n_facts(self) -> int:
        """N·R, the number of (subject, relation) queries."""
        return self.n_subjects * self.n_relations

    def answer(self, subjects: npt.ArrayLike, relations: npt.ArrayLike) -> Any:
        """The attribute ``π_r(s)`` for each (subject, relation) pair (broadcast).

        Parameters
        ----------
        subjects : array_like of int
            Subject ids, broadcast against ``relations``.
        relations : array_like of int
            Relation ids.
        """
        return self.permutations[np.asarray(relations), np.asarray(subjects)]

    def follow(self, entities: npt.ArrayLike, chains: npt.ArrayLike) -> IntArray:
        """Where each chain of relations leads: ``π_{r_h}(… π_{r_1}(x))`` (multi-hop, §7).

        Subjects and attributes are one entity set here. ``chains`` has shape [..., h], is read
        left to right (``r_1`` first) and broadcasts against ``entities``. The relation id ``R``
        is the padding relation ``∅`` (the identity), so a chain padded at the end leads where
        the unpadded chain leads.

        Parameters
        ----------
        entities : array_like of int
            Entity ids, broadcast against ``chains``.
        chains : array_like of int, shape [..., H]
            Relation ids, first hop first.

        Examples
        --------
        >>> facts = Facts([[1, 2, 0], [0, 2, 1]])
        >>> facts.follow([0, 0, 0], [[0, 0], [0, 1], [1, 2]]).tolist()
        [2, 2, 0]
        """
        chain_table = np.asarray(chains, dtype=np.int64)
        start = np.asarray(entities, dtype=np.int64)
        shape = np.broadcast_shapes(start.shape, chain_table.shape[:-1])
        positions = np.broadcast_to(start, shape)
        chain_table = np.broadcast_to(chain_table, (*shape, chain_table.shape[-1]))
        with_padding = np.vstack([self.permutations, np.arange(self.n_subjects)])
        for step in range(chain_table.shape[-1]):
            positions = with_padding[chain_table[..., step], positions]
        return np.array(positions, dtype=np.int64)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Facts):
            return NotImplemented
        return np.array_equal(self.permutations, other.permutations)

    def __hash__(self) -> int:
        return hash(self.permutations.tobytes())

    def __repr__(self) -> str:
        return f"Facts(n_subjects={self.n_subjects}, n_relations={self.n_relations})"


class SeedStreams(NamedTuple):
    """The independent random streams of one seed: every recipe draws its facts, its codes and
    its read maps from these, and from nothing else."""

    facts: np.random.Generator
    codes: np.random.Generator
    read_maps: np.random.Generator


def seed_streams(seed: int) -> SeedStreams:
    """The three streams of ``seed``: ``numpy.random.SeedSequence(seed).spawn(3)``, in the order
    facts, codes, read maps. The one place a seed is split, so that the same seed gives the same
    facts in every recipe, and bit-identical weights.

    Examples
    --------
    >>> first, again = seed_streams(7), seed_streams(7)
    >>> bool(first.codes.random() == again.codes.random() != first.facts.random())
    True
    """
    facts, codes, read_maps = np.random.SeedSequence(seed).spawn(3)
    return SeedStreams(
        np.random.default_rng(facts), np.random.default_rng(codes), np.random.default_rng(read_maps)
    )


def generator(seed: int | np.random.Generator | np.random.SeedSequence) -> np.random.Generator:
    """Where a seed becomes a generator for samples, probes and test weights (the one site beside
    :func:`seed_streams`; a generator passes through).

    Examples
    --------
    >>> bool(generator(3).random() == generator(3).random())
    True
    """
    return np.random.default_rng(seed)


def random_facts(
    n_subjects: int, n_relations: int, seed: int | np.random.Generator | np.random.SeedSequence = 0
) -> Facts:
    """Draw R independent uniformly random permutations of ``[N]``.

    Parameters
    ----------
    seed : int, numpy.random.SeedSequence or numpy.random.Generator
        Every random choice flows from it; the same seed gives the same facts.

    Returns
    -------
    Facts
        ``permutations`` of shape [n_relations, n_subjects].

    Raises
    ------
    TypeError, ValueError
        If a size is not a positive integer.

    Examples
    --------
    >>> random_facts(1000, 4, seed=7) == random_facts(1000, 4, seed=7)
    True
    >>> random_facts(1000, 4, seed=7) == random_facts(1000, 4, seed=8)
    False
    """
    n_subjects = require_int("n_subjects", n_subjects, minimum=1)
    n_relations = require_int("n_relations", n_relations, minimum=1)
    rng = generator(seed)
    table = np.stack([rng.permutation(n_subjects) for _ in range(n_relations)])
    return Facts(table)


def require_facts(name: str, facts: object, n_subjects: int, n_relations: int) -> Facts:
    """Return ``facts`` if it is a :class:`Facts` of N subjects and R relations; else raise.

    Parameters
    ----------
    name : str
        The argument's name, for the error message.

    Examples
    --------
    >>> require_facts("facts", random_facts(5, 2), 5, 3)
    Traceback (most recent call last):
    ...
    ValueError: facts hold N=5, R=2; expected N=5, R=3
    """
    if not isinstance(facts, Facts):
        raise InputTypeError(f"{name} must be a Facts object, got {type(facts).__name__}")
    if (facts.n_subjects, facts.n_relations) != (n_subjects, n_relations):
        raise ValueError(
            f"{name} hold N={facts.n_subjects}, R={facts.n_relations}; "
            f"expected N={n_subjects}, R={n_relations}"
        )
    return facts
