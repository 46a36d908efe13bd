"""Information-theoretic lower bounds, and the dimension each construction achieves.

Global (any architecture)
    The R permutations carry ``R·log2 N!`` bits, so a model that recalls all of them, stored at
    ``p`` bits a parameter, has at least ``R·log2 N! / p`` parameters.
Per subject (fact-independent read-out)
    If only the subject embeddings depend on the facts, ``e_s`` alone determines the tuple
    ``(π_1(s), …, π_R(s))`` and all ``N^R`` tuples occur, so ``d_s·p >= R·log2 N``.

Robust regime (unit codes at a margin)
    N unit codes whose pairwise inner products are at most ``μ`` in absolute value (margin
    ``1 - μ`` for clean inner-product decoding) give 2N points ``±u_a`` with disjoint spherical
    caps of angular radius ``arccos(μ)/2``, so ``2N · cap(k, arccos(μ)/2) <= 1`` (fraction of
    the sphere): :func:`packing_min_code_length`.

Its docstrings outweigh its code on purpose: it implements ``proofs/lower_bounds.md``, and each
function states the bound it computes, in the proof's notation, with its assumptions.
Per pass, multi-hop (fact-independent read-out)
    One pass answers every chain of length ``<= g`` from its entity: ``D_g = Σ_{h<=g} R^h``
    answers forming a tree, and every assignment of distinct values is realisable, so
    ``d_s·p >= log2((N-1)! / (N-1-D)!)`` with ``D = min(D_g, N-1)`` (:func:`per_pass_bits`). For
    uniformly random facts, recall with probability ``1 - δ`` needs
    ``d_s·p >= R·log2(N!/(N-m)!) + log2(1 - δ - C)``, ``m = Σ_{h<g} R^h`` and
    ``C = D_g(D_g+1) / (2(N-m+1))`` (:func:`per_pass_bits_random`).
Proofs: ``proofs/lower_bounds.md`` and ``proofs/multi_hop.md``. ``log2 N!`` is computed through
``math.lgamma``.
"""

from __future__ import annotations

import math

from geoconstruct._validation import require_int, require_probability
from geoconstruct.codes.protocol import CodebookFamily
from geoconstruct.codes.sphere import cap_fraction
from geoconstruct.constructions.layouts import resolve_layout
from geoconstruct.constructions.multi_hop import chain_count
from geoconstruct.constructions.single_hop_sizes import code_length_for

__all__ = [
    "cap_fraction",
    "global_bits",
    "global_min_dimension",
    "global_min_params",
    "log2_factorial",
    "packing_min_code_length",
    "per_pass_bits",
    "per_pass_bits_random",
    "per_pass_min_dimension",
    "per_subject_bits",
    "per_subject_min_dimension",
    "subject_dimension",
]


def log2_factorial(n: int) -> float:
    """``log2 n!`` through ``lgamma`` (exact to float rounding for every n).

    Parameters
    ----------
    n : int
        n >= 0.

    Examples
    --------
    >>> abs(log2_factorial(4) - math.log2(24)) < 1e-12
    True
    """
    n = require_int("n", n, minimum=0)
    return math.lgamma(n + 1) / math.log(2)


def global_bits(n_subjects: int, n_relations: int) -> float:
    """``R·log2 N!``: the bits that R uniformly random bijections over N subjects carry.

    Examples
    --------
    >>> round(global_bits(1024, 4))
    35076
    """
    n_subjects = require_int("n_subjects", n_subjects, minimum=1)
    n_relations = require_int("n_relations", n_relations, minimum=1)
    return n_relations * log2_factorial(n_subjects)


def global_min_params(n_subjects: int, n_relations: int, bits: int) -> int:
    """``⌈R·log2 N! / p⌉``: parameters any model needs at ``p`` bits a parameter."""
    bits = require_int("bits", bits, minimum=1)
    return math.ceil(global_bits(n_subjects, n_relations) / bits)


def per_subject_bits(n_subjects: int, n_relations: int) -> float:
    """``R·log2 N``: the bits one subject embedding must hold when the read-out is fixed.

    Examples
    --------
    >>> per_subject_bits(1024, 4)
    40.0
    """
    n_subjects = require_int("n_subjects", n_subjects, minimum=1)
    n_relations = require_int("n_relations", n_relations, minimum=1)
    return n_relations * math.log2(n_subjects)


def per_subject_min_dimension(n_subjects: int, n_relations: int, bits: int) -> int:
    """``⌈R·log2 N / p⌉``: the smallest ``d_s`` any fact-independent read-out allows at p bits.


    Examples
    --------
    >>> per_subject_min_dimension(2**16, 4, bits=8)
    8
    """
    bits = require_int("bits", bits, minimum=1)
    # R·log2 N / p, rounded up; exact for powers of two, where float log2 is exact
    return math.ceil(per_subject_bits(n_subjects, n_relations) / bits - 1e-12)


def subject_dimension(
    n_subjects: int,
    n_relations: int,
    *,
    layout: str = "block",
    codebook: str | CodebookFamily = "grid",
) -> int:
    """``d_s`` the construction uses at its smallest ``d``: ``R·k`` (block) or ``k`` (superposed).

    Examples
    --------
    >>> subject_dimension(2**16, 4), per_subject_min_dimension(2**16, 4, bits=8)
    (8, 8)
    """
    code_length = code_length_for(n_subjects, n_relations, layout=layout, codebook=codebook)
    return resolve_layout(layout).relations.subject_dim(n_relations, code_length)


def global_min_dimension(n_subjects: int, n_relations: int, bits: int) -> int:
    """``⌈R·log2 N! / (N·p)⌉``: the global bound per subject embedding.

    If all the information sat in the N subject embeddings (the most favourable case for them),
    each would need this many p-bit coordinates; any model needs at least ``N`` times this many
    parameters in all (:func:`global_min_params`).


    Examples
    --------
    >>> global_min_dimension(2**16, 4, bits=8), per_subject_min_dimension(2**16, 4, bits=8)
    (8, 8)
    """
    n_subjects = require_int("n_subjects", n_subjects, minimum=1)
    bits = require_int("bits", bits, minimum=1)
    return math.ceil(global_bits(n_subjects, n_relations) / (n_subjects * bits) - 1e-12)


def packing_min_code_length(n_codes: int, max_coherence: float) -> int:
    """The smallest k for which N unit codes with ``|⟨u_a, u_b⟩| <= μ`` can exist (cap packing).

    The 2N vectors ``±u_a`` are pairwise at angle at least ``arccos(μ)`` (``u_a`` and ``−u_a``
    at π), so caps of angular radius ``arccos(μ)/2`` around them are disjoint and
    ``2N · cap_fraction(k, arccos(μ)/2) <= 1``; this returns the smallest such k. On the sphere
    of ℝ^1, ``{±1}``, a cap of radius below π/2 is one point of two: fraction 1/2, so k = 1
    exactly when N = 1.

    Parameters
    ----------
    n_codes : int
        N, the number of unit codes.
    max_coherence : float
        μ in [0, 1), the largest ``|⟨u_a, u_b⟩|`` allowed.

    Examples
    --------
    >>> packing_min_code_length(2**16, 0.5), packing_min_code_length(2**16, 0.9)
    (15, 8)
    >>> packing_min_code_length(1, 0.5), packing_min_code_length(2, 0.5)
    (1, 2)
    """
    n_codes = require_int("n_codes", n_codes, minimum=1)
    max_coherence = require_probability("max_coherence", max_coherence)
    half_angle = math.acos(max_coherence) / 2

    def fraction(length: int) -> float:
        return 0.5 if length == 1 else cap_fraction(length, half_angle)

    length = 1
    while 2 * n_codes * fraction(length) > 1.0:
        length += 1
    return length


def log2_falling_factorial(n: int, count: int) -> float:
    """``log2(n! / (n - count)!)``, the log of ``n·(n-1)···(n-count+1)``.

    Summed term by term (``math.fsum``) up to a million terms, through ``lgamma`` beyond.

    Examples
    --------
    >>> log2_falling_factorial(8, 2) == math.log2(56)
    True
    """
    n = require_int("n", n, minimum=0)
    count = require_int("count", count, minimum=0)
    if count > n:
        raise ValueError(f"count must be at most n={n}, got {count}")
    if count <= 10**6:
        return math.fsum(math.log2(n - i) for i in range(count))
    return log2_factorial(n) - log2_factorial(n - count)


def per_pass_bits(n_entities: int, n_relations: int, hops_per_pass: int) -> float:
    """``log2((N-1)! / (N-1-D)!)``, ``D = min(D_g, N-1)``: bits one entity embedding must hold.

    A pass with a fact-independent read-out answers every chain of length ``<= g`` from the
    entity it is given, so the embedding determines ``D_g`` answers; the count of their possible
    values is this (``proofs/multi_hop.md``).

    Parameters
    ----------
    n_entities : int
        N, the number of entities.
    hops_per_pass : int
        g, hops answered in one forward pass.

    Examples
    --------
    >>> per_pass_bits(4096, 4, 1) == log2_falling_factorial(4095, 4)
    True
    >>> per_pass_bits(5, 2, 3) == math.log2(24)   # D_3 = 14 > N - 1: every order of 4 entities
    True
    """
    n_entities = require_int("n_entities", n_entities, minimum=1)
    answers = min(chain_count(n_relations, hops_per_pass), n_entities - 1)
    return log2_falling_factorial(n_entities - 1, answers)


def per_pass_min_dimension(n_entities: int, n_relations: int, hops_per_pass: int, bits: int) -> int:
    """``⌈per_pass_bits / p⌉``: the smallest entity dimension ``d_s`` one pass allows at p bits.

    Parameters
    ----------
    n_entities : int
        N, the number of entities.
    hops_per_pass : int
        g, hops answered in one forward pass.

    Examples
    --------
    >>> per_pass_min_dimension(4096, 4, 1, bits=8), per_pass_min_dimension(4096, 4, 4, bits=8)
    (6, 508)
    """
    bits = require_int("bits", bits, minimum=1)
    return math.ceil(per_pass_bits(n_entities, n_relations, hops_per_pass) / bits - 1e-12)


def per_pass_bits_random(
    n_entities: int, n_relations: int, hops_per_pass: int, failure_probability: float = 0.01
) -> float:
    """Bits an entity embedding needs for random facts to be recalled with probability ``1 - δ``.

    ``R·log2(N!/(N-m)!) + log2(1 - δ - C)`` with ``m = Σ_{h<g} R^h`` (the entities a pass's
    chains pass through, per relation) and ``C = D_g(D_g+1) / (2(N-m+1))``, a bound on the
    chance that two answers of one entity coincide (``proofs/multi_hop.md``).

    Parameters
    ----------
    n_entities : int
        N, the number of entities.
    hops_per_pass : int
        g, hops answered in one forward pass.
    failure_probability : float
        δ, the probability that some fact is not recalled.

    Raises
    ------
    ValueError
        When ``δ + C >= 1``: the bound says nothing there (answers collide too often).

    Examples
    --------
    >>> round(per_pass_bits_random(4096, 4, 1), 2), round(per_pass_bits(4096, 4, 1), 2)
    (47.98, 48.0)
    """
    n_entities = require_int("n_entities", n_entities, minimum=1)
    n_relations = require_int("n_relations", n_relations, minimum=1)
    hops_per_pass = require_int("hops_per_pass", hops_per_pass, minimum=1)
    delta = require_probability("failure_probability", failure_probability)
    answers = chain_count(n_relations, hops_per_pass)
    inner = 1 + chain_count(n_relations, hops_per_pass - 1) if hops_per_pass > 1 else 1
    collision = 1.0
    if inner <= n_entities:
        collision = answers * (answers + 1) / (2 * (n_entities - inner + 1))
    if delta + collision >= 1:
        raise ValueError(
            f"the random-facts bound is vacuous for N={n_entities}, D_g={answers}: answers "
            f"collide with probability up to {collision:.3g}, and δ + that is not below 1"
        )
    main = n_relations * log2_falling_factorial(n_entities, inner)
    return main + math.log2(1 - delta - collision)
