"""Zero-shot transfer: new facts through the same MLP, by re-initialising subject embeddings only.

The selector MLP, attention, codebook and unembedding depend on no fact, so a construction serves
entirely new bijections once its subject embeddings are rewritten as ``e'_s = Σ_r B_r u_{π'_r(s)}``
(docs/design.md §8). :func:`reinitialize` does that with the construction's own read maps ``B_r``.

For weights whose ``B_r`` are unknown (weights alone, in TransformerLens names),
:func:`fit_superposition` estimates them by least squares from the embeddings and the
unembedding's attribute vectors, ``E ≈ Φ Bᵀ`` with ``Φ_s = [u_{π_1(s)}; …; u_{π_R(s)}]``, and
:func:`reinitialize_weights` rewrites the embeddings from the fit. The fit identifies the ``B_r``
when ``Φ`` has full column rank, which needs ``N >= R·k`` subjects.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from geoconstruct.codes.protocol import CodebookFamily
from geoconstruct.codes.registry import resolve_codebook
from geoconstruct.constructions.construction import Construction, Guarantee
from geoconstruct.constructions.single_hop import construct_single_hop, superpose
from geoconstruct.constructions.single_hop_sizes import (
    DEFAULT_CODEBOOK,
    DEFAULT_LAYOUT,
    proven_dimension,
)
from geoconstruct.facts import Facts, random_facts, require_facts
from geoconstruct.model.assembly import with_subject_rows
from geoconstruct.model.transformer import Weights
from geoconstruct.model.vocabulary import Vocabulary
from geoconstruct.verification.report import RecallReport

__all__ = [
    "SuperpositionFit",
    "TransferSummary",
    "fit_superposition",
    "reinitialize",
    "reinitialize_weights",
    "transfer_summary",
    "unembedding_codes",
]

FloatArray = npt.NDArray[np.float64]


def reinitialize(construction: Construction, new_facts: Facts) -> Construction:
    """The same model with only the subject embeddings rewritten for ``new_facts``.

    Every other array — attention, MLP, unembedding, relation rows of ``W_E`` — is the very same
    object, bit for bit; ``recall()`` of the result checks the new facts.

    Parameters
    ----------
    new_facts : Facts
        The facts to store instead.

    Raises
    ------
    TypeError, ValueError
        If ``new_facts`` is not a ``Facts`` of the construction's N and R.

    Examples
    --------
    >>> from geoconstruct import construct_single_hop, proven_dimension, random_facts
    >>> c = construct_single_hop(500, 3, proven_dimension(500, 3), seed=0)
    >>> moved = reinitialize(c, random_facts(500, 3, seed=99))
    >>> mlp = "blocks.0.mlp.W_in"
    >>> moved.recall().accuracy, moved.weights[mlp] is c.weights[mlp]
    (1.0, True)
    """
    require_facts(
        "new_facts", new_facts, construction.facts.n_subjects, construction.facts.n_relations
    )
    read_maps = getattr(construction.metadata, "read_maps", None)
    if read_maps is None:
        raise ValueError(
            f"a {construction.kind} construction has no read maps to superpose new facts "
            "through; fit them from the weights with fit_superposition and reinitialize_weights"
        )
    embeddings = superpose(new_facts, construction.codebook.codes, read_maps)
    weights = with_subject_rows(
        construction.weights,
        construction.vocabulary.n_subjects,
        construction.residual["subject"],
        embeddings,
    )
    guarantee = construction.guarantee
    restated = Guarantee(
        guarantee.scope,
        guarantee.failure_probability,
        f"{guarantee.statement}; restated by reinitialize, which wrote the recipe's own subject "
        "rows for the new facts (they must be drawn independently of the codes)",
    )
    return construction.with_weights(
        weights, facts=new_facts, change="reinitialize", restated=restated
    )


@dataclass(frozen=True, eq=False)
class SuperpositionFit:
    """Least-squares read maps fitted to weights.

    Attributes
    ----------
    read_maps : ndarray, shape [R, d_model, k]
        ``B̂_r``: the embedding of relation r's code, in residual coordinates.
    codes : ndarray, shape [M, k]
        The attribute codes read off the unembedding, in an orthonormal basis of their span.
    code_basis : ndarray, shape [d_model, k]
        That basis: ``W_U[:, attributes] = code_basis @ codes.T``.
    r2 : float
        Fraction of the embeddings' variance the superposition explains, over all relations.
    r2_per_relation : ndarray, shape [R]
        The same, explained by each relation's term alone on top of the others (partial R²).
    """

    read_maps: FloatArray
    codes: FloatArray
    code_basis: FloatArray
    r2: float
    r2_per_relation: FloatArray


def fit_superposition(
    weights: Weights, facts: Facts, *, rank_tolerance: float = 1e-9
) -> SuperpositionFit:
    """Fit ``W_E[s] ≈ Σ_r B_r u_{π_r(s)}`` by least squares, from weights alone.

    The vocabulary follows the library's convention: subjects ``[0, N)``, relations ``[N, N+R)``,
    attributes ``[N+R, 2N+R)``. Codes are the unembedding's attribute columns, expressed in an
    orthonormal basis of their span (dimension k = their numerical rank).

    Parameters
    ----------
    rank_tolerance : float
        Singular values below ``rank_tolerance × the largest`` do not count towards k.

    Returns
    -------
    SuperpositionFit

    Raises
    ------
    ValueError
        If the shapes do not fit N and R, or ``N < R·k`` (the fit would not identify ``B_r``).
    """
    n_subjects, n_relations = facts.n_subjects, facts.n_relations
    vocabulary = Vocabulary(n_subjects, n_relations, n_attributes=n_subjects)
    W_E = np.asarray(weights["embed.W_E"], dtype=np.float64)
    W_U = np.asarray(weights["unembed.W_U"], dtype=np.float64)
    if W_E.shape[0] != vocabulary.d_vocab or W_U.shape[1] != vocabulary.d_vocab:
        raise ValueError(
            f"weights have a vocabulary of {W_E.shape[0]} tokens; N={n_subjects}, R={n_relations} "
            f"need {vocabulary.d_vocab}"
        )
    codes, code_basis = unembedding_codes(W_U, vocabulary, rank_tolerance=rank_tolerance)
    code_length = codes.shape[1]
    if code_length == 0:
        raise ValueError("the unembedding's attribute columns span nothing: no codes to fit")
    if n_subjects < n_relations * code_length:
        raise ValueError(
            f"fitting R={n_relations} read maps of {code_length}-dimensional codes needs "
            f"N >= {n_relations * code_length} subjects, got N={n_subjects}"
        )
    design = np.concatenate([codes[row] for row in facts.permutations], axis=1)  # [N, R·k]
    embeddings = W_E[:n_subjects]  # [N, d_model]
    solution, *_ = np.linalg.lstsq(design, embeddings, rcond=None)  # [R·k, d_model]
    read_maps = solution.reshape(n_relations, code_length, -1).transpose(0, 2, 1)
    return SuperpositionFit(
        read_maps=read_maps,
        codes=codes,
        code_basis=code_basis,
        r2=_r2(embeddings, design @ solution),
        r2_per_relation=np.array(
            [
                _partial_r2(embeddings, design, relation, code_length)
                for relation in range(n_relations)
            ]
        ),
    )


def unembedding_codes(
    W_U: npt.ArrayLike, vocabulary: Vocabulary, *, rank_tolerance: float = 1e-9
) -> tuple[FloatArray, FloatArray]:
    """The attribute codes ``W_U`` decodes, in an orthonormal basis of their span.

    Returns ``codes`` [M, k] and ``code_basis`` [d_model, k] with
    ``W_U[:, attributes] = code_basis @ codes.T``; k is the numerical rank (singular values above
    ``rank_tolerance`` times the largest).

    Parameters
    ----------
    W_U : array_like, shape [d_model, d_vocab]
        The unembedding.
    vocabulary : Vocabulary
        Token ids of subjects, relations and attributes.
    rank_tolerance : float
        Singular values at most this times the largest count as zero.
    """
    columns = np.asarray(W_U, dtype=np.float64)[:, vocabulary.attribute_offset :]  # [d, M]
    # Rows that are zero everywhere add nothing to the span: decompose the others only (a
    # construction's attribute columns live in its k-dimensional output subspace).
    rows = np.flatnonzero(np.any(columns != 0, axis=1))
    reduced, singular, right = np.linalg.svd(columns[rows], full_matrices=False)
    code_length = int((singular > rank_tolerance * singular.max(initial=0.0)).sum())
    codes: FloatArray = (singular[:code_length, None] * right[:code_length]).T  # [M, k]
    basis = np.zeros((columns.shape[0], code_length))
    basis[rows] = reduced[:, :code_length]
    return codes, basis


def reinitialize_weights(
    weights: Weights, fit: SuperpositionFit, new_facts: Facts
) -> dict[str, npt.NDArray[Any]]:
    """Weights with the subject rows of ``W_E`` rewritten from a fit; every other array shared.

    Returns a new dict whose arrays other than ``embed.W_E`` are the input's own objects.

    Parameters
    ----------
    fit : SuperpositionFit
        Read maps and codes fitted from the weights (:func:`fit_superposition`).
    new_facts : Facts
        The facts to store instead.
    """
    n_relations = fit.read_maps.shape[0]
    require_facts("new_facts", new_facts, new_facts.n_subjects, n_relations)
    vocabulary = Vocabulary(new_facts.n_subjects, n_relations, n_attributes=new_facts.n_subjects)
    embeddings = superpose(new_facts, fit.codes, fit.read_maps)  # [N, d_model]
    return with_subject_rows(weights, vocabulary.n_subjects, slice(None), embeddings)


def _r2(target: FloatArray, fitted: FloatArray) -> float:
    residual = ((target - fitted) ** 2).sum()
    total = ((target - target.mean(axis=0)) ** 2).sum()
    return 1.0 if total == 0 else float(1.0 - residual / total)


def _partial_r2(target: FloatArray, design: FloatArray, relation: int, code_length: int) -> float:
    """How much of what the other relations leave unexplained relation ``relation`` explains."""
    mine = slice(relation * code_length, (relation + 1) * code_length)
    others = np.delete(design, np.arange(design.shape[1])[mine], axis=1)
    if others.shape[1]:
        without, *_ = np.linalg.lstsq(others, target, rcond=None)
        remainder = target - others @ without
    else:
        remainder = target - target.mean(axis=0)
    full, *_ = np.linalg.lstsq(design, target, rcond=None)
    unexplained = ((target - design @ full) ** 2).sum()
    left = (remainder**2).sum()
    return 1.0 if left == 0 else float(1.0 - unexplained / left)


@dataclass(frozen=True)
class TransferSummary:
    """New facts through the same MLP: recall before and after rewriting the subject embeddings.

    ``stale``: the old embeddings judged against the new facts; ``moved``: embeddings rewritten
    with the known read maps; ``fitted``: with read maps fitted from the weights alone
    (``fitted_r2``), or None with the reason in ``fit_skipped`` when the weights do not determine
    them (fewer subjects than unknowns). ``unchanged``: every array but ``W_E`` is bit for bit the
    original's. ``transferred`` is the construction with the rewritten embeddings and new facts.
    """

    n_subjects: int
    n_relations: int
    layout: str
    codebook: str
    seed: int
    new_seed: int
    original: RecallReport
    stale: RecallReport
    moved: RecallReport
    fitted: RecallReport | None
    fitted_r2: float | None
    fit_skipped: str | None
    n_kept_arrays: int
    unchanged: bool
    transferred: Construction | None = field(default=None, repr=False, compare=False)

    @property
    def all_correct(self) -> bool:
        """The new facts recalled through the kept weights, by every transfer that ran."""
        return self.moved.all_correct and (self.fitted is None or self.fitted.all_correct)


def transfer_summary(
    n_subjects: int,
    n_relations: int,
    *,
    layout: str = DEFAULT_LAYOUT,
    codebook: str | CodebookFamily = DEFAULT_CODEBOOK,
    seed: int = 0,
    new_seed: int = 1,
) -> TransferSummary:
    """Build at the smallest d, then store fresh facts by rewriting the subject embeddings only.

    Parameters
    ----------
    new_seed : int
        Seeds the new facts.

    Examples
    --------
    >>> summary = transfer_summary(300, 2, layout="block", codebook="grid")
    >>> summary.moved.all_correct, summary.fitted.all_correct, summary.unchanged
    (True, True, True)
    >>> summary = transfer_summary(60, 2)   # superposed: R·k > N, the fit is not identifiable
    >>> summary.moved.all_correct, summary.fitted
    (True, None)
    >>> print(summary.fit_skipped)
    fitting R=2 read maps of 44-dimensional codes needs N >= 88 subjects, got N=60
    """
    family = resolve_codebook(codebook)
    d = proven_dimension(n_subjects, n_relations, layout=layout, codebook=family)
    original = construct_single_hop(
        n_subjects, n_relations, d, layout=layout, codebook=family, seed=seed
    )
    new_facts = random_facts(n_subjects, n_relations, new_seed)
    stale = original.with_facts(new_facts, change="old embeddings asked new facts")
    moved = reinitialize(original, new_facts)
    kept = [name for name in original.weights if name != "embed.W_E"]
    rewritten = [moved.weights]
    fitted, fitted_r2, fit_skipped = None, None, None
    try:
        fit = fit_superposition(original.weights, original.facts)
    except ValueError as error:  # not identifiable from these weights: say why
        fit_skipped = str(error)
    else:
        fitted_weights = reinitialize_weights(original.weights, fit, new_facts)
        rewritten.append(fitted_weights)
        fitted_r2 = fit.r2
        fitted = original.with_weights(
            fitted_weights, facts=new_facts, change="reinitialize_weights from fitted read maps"
        ).recall()
    unchanged = all(
        _digest(weights[name]) == _digest(original.weights[name])
        for weights in rewritten
        for name in kept
    )
    return TransferSummary(
        n_subjects=n_subjects,
        n_relations=n_relations,
        layout=original.metadata.layout.name,
        codebook=family.name,
        seed=seed,
        new_seed=new_seed,
        original=original.recall(),
        stale=stale.recall(),
        moved=moved.recall(),
        fitted=fitted,
        fitted_r2=fitted_r2,
        fit_skipped=fit_skipped,
        n_kept_arrays=len(kept),
        unchanged=unchanged,
        transferred=moved,
    )


def _digest(array: Any) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()
