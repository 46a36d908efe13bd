"""Information-theoretic lower bounds, and the dimension each construction achieves (DESIGN.md §6).

Global (any architecture)
    The R permutations carry ``R·log2 N!`` bits, so a model that recalls all of them, stored at
    ``p`` bits a parameter, has at least ``R·log2 N! / p`` parameters.
Per subject (fact-independent read-out)
    If only the subject embeddings depend on the facts, ``e_s`` alone determines the tuple
    ``(π_1(s), …, π_R(s))`` and all ``N^R`` tuples occur, so ``d_s·p >= R·log2 N``.

Robust regime (unit codes at a margin)
    N unit codes whose pairwise inner products are at most ``μ`` (margin ``1 - μ`` for clean
    inner-product decoding) have disjoint spherical caps of angular radius ``arccos(μ)/2``, so
    ``N · cap(k, arccos(μ)/2) <= 1`` (fraction of the sphere): :func:`packing_min_code_length`.
Upper bounds
    :func:`construction_subject_dimension` is the ``d_s`` each construction uses, with its formula:
    ``R·⌈log2 N / p⌉`` for grid codes (the per-subject bound up to rounding), ``R·k_μ(N)`` with
    ``k_μ(N) = ⌈2 ln(2N(N-1))/μ²⌉ = O(R log N)`` for random unit codes, and the closed forms of
    ``proofs/bch_codes.md`` for bch codes.

Proofs: ``proofs/lower_bounds.md``. ``log2 N!`` is computed through ``math.lgamma``.
"""

from __future__ import annotations

import math

from scipy.special import betainc

from geoconstruct._validation import require_int, require_probability
from geoconstruct.codebooks import (
    CodebookFamily,
    GaussianCodes,
    GridCodes,
    RademacherCodes,
    resolve_codebook,
)
from geoconstruct.single_hop import code_length_for

__all__ = [
    "cap_fraction",
    "global_bits",
    "global_min_dimension",
    "global_min_params",
    "log2_factorial",
    "packing_min_code_length",
    "per_subject_bits",
    "per_subject_min_dimension",
    "subject_dimension",
]


def log2_factorial(n: int) -> float:
    """``log2 n!`` through ``lgamma`` (exact to float rounding for every n).

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
    return n_relations * code_length if layout == "block" else code_length


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


def cap_fraction(dimension: int, angle: float) -> float:
    """The fraction of the unit sphere in ``R^dimension`` within ``angle`` (<= π/2) of a point.

    ``½·I_{sin² angle}((dimension-1)/2, ½)`` (regularised incomplete beta function).

    Examples
    --------
    >>> round(cap_fraction(2, math.pi / 4), 6), round(cap_fraction(3, math.pi / 3), 6)
    (0.25, 0.25)
    """
    dimension = require_int("dimension", dimension, minimum=2)
    if not 0.0 <= angle <= math.pi / 2:
        raise ValueError(f"angle must lie in [0, π/2], got {angle}")
    return 0.5 * float(betainc((dimension - 1) / 2, 0.5, math.sin(angle) ** 2))


def packing_min_code_length(n_codes: int, max_coherence: float) -> int:
    """The smallest k for which N unit codes with ``|⟨u_a, u_b⟩| <= μ`` can exist (cap packing).

    Caps of angular radius ``arccos(μ)/2`` around the codes are disjoint, so
    ``N · cap_fraction(k, arccos(μ)/2) <= 1``; this returns the smallest such k (at least 2).

    Examples
    --------
    >>> packing_min_code_length(2**16, 0.5), packing_min_code_length(2**16, 0.9)
    (14, 8)
    """
    n_codes = require_int("n_codes", n_codes, minimum=1)
    max_coherence = require_probability("max_coherence", max_coherence)
    half_angle = math.acos(max_coherence) / 2
    length = 2
    while n_codes * cap_fraction(length, half_angle) > 1.0:
        length += 1
    return length


def construction_subject_dimension(
    n_subjects: int,
    n_relations: int,
    *,
    layout: str = "block",
    codebook: str | CodebookFamily = "grid",
) -> tuple[int, str]:
    """``d_s`` the construction uses at its smallest ``d``, and the formula that gives it.

    Examples
    --------
    >>> construction_subject_dimension(2**16, 4)
    (8, 'R·⌈log2 N / p⌉ = 4·⌈16/8⌉')
    >>> construction_subject_dimension(2**16, 4, codebook="gaussian")[1]
    'R·⌈2 ln(2N(N-1))/μ²⌉ = 4·183'
    """
    family = resolve_codebook(codebook)
    d_s = subject_dimension(n_subjects, n_relations, layout=layout, codebook=family)
    if isinstance(family, GridCodes) and layout == "block":
        digits = math.ceil(math.log2(n_subjects) / family.bits - 1e-12) if n_subjects > 1 else 1
        formula = f"R·⌈log2 N / p⌉ = {n_relations}·⌈{math.log2(n_subjects):g}/{family.bits}⌉"
        assert max(digits, 1) * n_relations == d_s
        return d_s, formula
    if isinstance(family, GaussianCodes | RademacherCodes) and layout == "block":
        return d_s, f"R·⌈2 ln(2N(N-1))/μ²⌉ = {n_relations}·{d_s // n_relations}"
    if layout == "block":
        return d_s, f"R·(2^m - 1) = {n_relations}·{d_s // n_relations} (bch, proofs/bch_codes.md)"
    return d_s, f"k = {d_s} (superposed, proofs/superposed_recall.md, proofs/bch_codes.md)"
