"""Single-hop geometric construction: ``construct_single_hop``, read top to bottom.

A prompt is ``[s, r]`` (subject token, relation token); the answer is the attribute token
``π_r(s)``. The residual stream is a direct sum of named subspaces, laid out by the
:class:`~geoconstruct.constructions.layouts.Layout`::

    | subject (d_s) | relation (R, one-hot) | output (k) | unused |

* **Embedding.** ``e_s = Σ_r B_r u_{π_r(s)}`` on the subject subspace: the superposition of the
  subject's attribute codes. Relation ``r`` embeds as the one-hot vector ``x_rel = e_r``.
* **Attention** (one head, ``W_Q = W_K = 0``): the last position attends 1/2 to each position;
  ``W_V`` is the identity on the subject subspace and ``W_O = 2·I`` writes it back, so the last
  position holds ``e_s + x_rel`` exactly (the relation token has no subject component).
* **Selector MLP** (:mod:`~geoconstruct.model.selector`): ``2·R·k`` hidden units write
  ``y = B_rᵀ e_s`` into the output subspace for the prompted relation only.
* **Unembedding**: ``W_U[:, a] = u_a`` on the output subspace and the codebook's decoding bias;
  subject and relation tokens get a bias below every attribute logit.

The layouts (``block``: one k-slot per relation; ``superposed``: all relations share k dimensions
through random orthogonal ``B_r``) are described in :mod:`~geoconstruct.constructions.layouts`.
A ``d`` larger than the minimum is used by taking the largest code length that fits; what is left
over stays zero and is recorded as ``unused``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from geoconstruct._validation import (
    DEFAULT_MEMORY_BUDGET,
    require_dtype,
    require_int,
    require_within_budget,
)
from geoconstruct.codes.codebooks import (
    Codebook,
    CodebookFamily,
    resolve_codebook,
)
from geoconstruct.constructions.construction import Construction, Guarantee
from geoconstruct.constructions.layouts import (
    LAYOUTS,
    SUPERPOSED_FAILURE_PROBABILITY,
    Layout,
    resolve_layout,
)
from geoconstruct.constructions.memory import FLOAT64, MemoryPlan, selector_bytes, weight_bytes
from geoconstruct.constructions.queries import RECALL_METHODS, SingleHopQueries
from geoconstruct.facts import Facts, random_facts, require_facts, seed_streams
from geoconstruct.model.assembly import (
    freeze,
    write_codebook_unembedding,
    write_copy_head,
    write_embedding,
    write_one_hot_embedding,
    write_selector,
)
from geoconstruct.model.transformer import DTYPES, TransformerConfig, zero_weights
from geoconstruct.model.vocabulary import Vocabulary

__all__ = [
    "DEFAULT_CODEBOOK",
    "DEFAULT_LAYOUT",
    "LAYOUTS",
    "RECALL_METHODS",
    "SUPERPOSED_FAILURE_PROBABILITY",
    "SingleHopMetadata",
    "assemble",
    "code_length_for",
    "construct_single_hop",
    "memory_plan",
    "proven_dimension",
    "required_dimension",
    "single_hop_config",
    "superpose",
]

FloatArray = npt.NDArray[np.float64]

DEFAULT_LAYOUT = "superposed"
"""The paper's construction: every relation superposed in one k-dimensional subspace."""
DEFAULT_CODEBOOK = "gaussian"
"""The paper's codes: independent Gaussian directions, normalised."""

SUBJECT_CHUNK = 65_536
"""Subjects whose embeddings are computed at once (a [chunk, d_s] float64 temporary)."""


@dataclass(frozen=True, eq=False)
class SingleHopMetadata:
    """How a single-hop construction stores its facts.

    Attributes
    ----------
    layout : Layout
    read_maps : ndarray, shape [R, d_s, k]
        ``B_r`` for every relation (float64, read-only).
    gate_scale : float
        λ of the selector, a bound valid for every set of facts.
    guarantee : Guarantee
        What is proved at this code length.
    """

    layout: Layout
    read_maps: FloatArray
    gate_scale: float
    guarantee: Guarantee

    def to_manifest(self) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
        fields = {
            "layout": self.layout.name,
            "gate_scale": self.gate_scale,
            "guarantee": dataclasses.asdict(self.guarantee),
        }
        return fields, {"read_maps": self.read_maps}

    @classmethod
    def from_manifest(
        cls, fields: dict[str, Any], arrays: dict[str, npt.NDArray[Any]]
    ) -> SingleHopMetadata:
        return cls(
            resolve_layout(fields["layout"]),
            arrays["read_maps"],
            fields["gate_scale"],
            Guarantee(**fields["guarantee"]),
        )


def construct_single_hop(
    n_subjects: int,
    n_relations: int,
    d: int | None = None,
    *,
    layout: str | Layout = DEFAULT_LAYOUT,
    codebook: str | CodebookFamily = DEFAULT_CODEBOOK,
    seed: int = 0,
    dtype: str = "float64",
    facts: Facts | None = None,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
) -> Construction[SingleHopMetadata]:
    """Build, in closed form, a one-layer transformer that recalls R bijections over N subjects.

    Parameters
    ----------
    n_subjects : int
        N >= 1 subjects (and N attributes).
    n_relations : int
        R >= 1 relations.
    d : int, optional
        ``d_model``; at least :func:`required_dimension`. Default (None): the smallest d with
        a proof, :func:`proven_dimension` (as on the command line).
    layout : {"superposed", "block", "superposed_separate", "block_separate"} or a Layout
        How relations share the subject subspace (see
        :mod:`~geoconstruct.constructions.layouts`); the default is the paper's.
    codebook : {"gaussian", "rademacher", "bch", "grid"} or a codebook family
        Attribute codes; ``GridCodes(bits=p)`` etc. for non-default parameters. The superposed
        layouts need unit codes (gaussian, rademacher or bch).
    seed : int
        Seeds the facts, the codebook and the read maps (independent streams), so the same seed
        gives bit-identical weights.
    dtype : {"float64", "float32"} or a numpy dtype
        Dtype of the weights and of the forward pass.
    facts : Facts, optional
        Store these facts instead of drawing them from ``seed``; must be N subjects × R relations.
    memory_budget : int
        Bytes the construction may allocate (default 8 GiB); see :func:`memory_plan`.

    Returns
    -------
    Construction
        ``kind="single_hop"``, with :class:`SingleHopMetadata`.

    Raises
    ------
    TypeError
        A size, ``d`` or ``seed`` that is not an integer.
    ValueError
        A non-positive size, an unknown layout, codebook or dtype, grid codes with the superposed
        layout, mismatched ``facts``, or ``d`` below the minimum (the message says
        ``requires d >= <minimum>``).
    MemoryBudgetError
        (a ``MemoryError``) before allocating, when :func:`memory_plan` exceeds
        ``memory_budget``; the message states the bytes needed.

    Examples
    --------
    The paper's construction (gaussian codes, superposed) at the dimension with a proof, below it
    where recall is measured, and grid codes in the block layout (the exact regime):

    >>> c = construct_single_hop(1000, 4, d=proven_dimension(1000, 4), seed=0)
    >>> c.config.d_model, c.config.d_mlp, c.config.d_vocab, c.guarantee.scope
    (215, 1688, 2004, 'with_probability')
    >>> c.recall().accuracy
    1.0
    >>> below = construct_single_hop(1000, 4, d=200, seed=0)
    >>> below.guarantee.scope, below.recall().accuracy
    ('none', 1.0)
    >>> grid = construct_single_hop(1000, 4, d=12, layout="block", codebook="grid")
    >>> grid.config.d_model, grid.recall(method="certified").accuracy
    (12, 1.0)
    >>> construct_single_hop(1000, 4, d=11, layout="block", codebook="grid")
    Traceback (most recent call last):
    ...
    ValueError: the block layout with grid codes for N=1000, R=4 requires d >= 12, got d=11
    """
    n_subjects = require_int("n_subjects", n_subjects, minimum=1)
    n_relations = require_int("n_relations", n_relations, minimum=1)
    seed = require_int("seed", seed, minimum=0)
    dtype = require_dtype(dtype, DTYPES)
    layout_object, family = _layout_and_family(layout, codebook, n_relations)
    if d is None:
        d = proven_dimension(n_subjects, n_relations, layout=layout_object, codebook=family)
    d = require_int("d", d, minimum=1)
    if facts is not None:
        facts = require_facts("facts", facts, n_subjects, n_relations)
    shortest = layout_object.shortest_code_length(n_subjects, n_relations, family)
    minimum = layout_object.dimension(n_relations, shortest)
    if d < minimum:
        raise ValueError(
            f"the {layout_object.name} layout with {family.name} codes for N={n_subjects}, "
            f"R={n_relations} requires d >= {minimum}, got d={d}"
        )
    code_length = layout_object.code_length_at(n_relations, d)
    family.check_dtype(code_length, dtype)
    plan = memory_plan(
        n_subjects, n_relations, d, layout=layout_object, codebook=family, dtype=dtype
    )
    require_within_budget("this construction", plan.total, memory_budget)

    # Draw the facts, the codes and the read maps from independent streams of the seed.
    streams = seed_streams(seed)
    if facts is None:
        facts = random_facts(n_subjects, n_relations, streams.facts)
    codes = layout_object.build_codebook(
        family, n_subjects, code_length, n_relations, streams.codes
    )
    read_maps = layout_object.read_maps(n_relations, codes, streams.read_maps)
    read_maps.flags.writeable = False
    gate_scale = layout_object.gate_scale(codes, n_relations)
    guarantee = layout_object.guarantee(n_subjects, n_relations, family, code_length)
    metadata = SingleHopMetadata(layout_object, read_maps, gate_scale, guarantee)
    return assemble(facts, codes, metadata, d, dtype, seed)


def assemble(
    facts: Facts, codebook: Codebook, metadata: SingleHopMetadata, d: int, dtype: str, seed: int
) -> Construction[SingleHopMetadata]:
    """Write every weight of the construction from its parts (float64 values, rounded once).

    Parameters
    ----------
    facts : Facts
        The R bijections stored.
    codebook : Codebook
        The attribute codes, drawn.
    metadata : SingleHopMetadata
        The construction's metadata (its codes, read maps and layout).
    d : int
        d_model, the residual width.
    dtype : str or numpy dtype
        ``"float64"`` or ``"float32"``: the weights' dtype.
    seed : int
        Seeds every random choice (facts, codes, read maps, samples).
    """
    n_subjects, n_relations = facts.n_subjects, facts.n_relations
    layout, read_maps = metadata.layout, metadata.read_maps
    code_length = codebook.code_length
    residual = layout.residual_map(n_relations, code_length, d)
    vocab = Vocabulary(n_subjects, n_relations, n_attributes=n_subjects)
    config = _model_config(vocab, d, residual.size("subject"), code_length, dtype)
    W = zero_weights(config)
    subject_tokens = np.arange(n_subjects)
    relation_tokens = vocab.relation_offset + np.arange(n_relations)
    attribute_tokens = vocab.attribute_offset + np.arange(n_subjects)

    # Embedding: e_s = Σ_r B_r u_{π_r(s)}, SUBJECT_CHUNK subjects at a time; relation r is one-hot.
    for start in range(0, n_subjects, SUBJECT_CHUNK):
        rows = slice(start, start + SUBJECT_CHUNK)
        embeddings = superpose(facts, codebook.codes, read_maps, rows)  # [chunk, d_s]
        write_embedding(W, subject_tokens[rows], residual["subject"], embeddings)
        del embeddings  # freed before the next chunk, and before the selector
    write_one_hot_embedding(W, relation_tokens, residual["relation"])

    # Attention: uniform over [s, r], copying the subject subspace to the last position.
    write_copy_head(W, 0, residual["subject"], n_positions=2)

    # Selector MLP: y = B_rᵀ e_s for the prompted relation r, into the output subspace.
    gates = residual.basis("relation")  # key r opens on relation r: [R, d_model]
    write_selector(
        W,
        layout.selector_reads(residual, read_maps),  # [R, d_model, k]
        gates,
        residual.basis("output"),  # [k, d_model]
        gate_threshold=1.0,  # one condition: the prompt's relation
        gate_scale=metadata.gate_scale,  # λ, doubled in place (layouts.py)
    )

    # Unembedding: decode the output subspace; every other token sits below all attributes.
    output_norm = layout.output_norm(codebook, n_relations)
    write_codebook_unembedding(
        W, residual["output"], attribute_tokens, codebook, output_norm=output_norm
    )

    return Construction(
        kind="single_hop",
        config=config,
        weights=freeze(W),
        facts=facts,
        codebook=codebook,
        residual=residual,
        vocabulary=vocab,
        queries=SingleHopQueries(
            residual["output"],
            layout.sign_read_maps(codebook),
            layout.uncertifiable(resolve_codebook(codebook.family), n_relations),
        ),
        metadata=metadata,
        seed=seed,
    )


def superpose(
    facts: Facts, codes: npt.ArrayLike, read_maps: npt.ArrayLike, subjects: slice = slice(None)
) -> FloatArray:
    """Subject embeddings ``e_s = Σ_r B_r u_{π_r(s)}``, shape [N, d_s] (or the ``subjects`` rows).

    Parameters
    ----------
    facts : Facts
    codes : array_like, shape [M, k]
        ``u_a`` for every attribute.
    read_maps : array_like, shape [R, d_s, k]
        ``B_r`` for every relation.
    subjects : slice, optional
        Only these subjects' embeddings (all by default).

    Examples
    --------
    >>> facts = Facts([[1, 0], [0, 1]])
    >>> slots = np.array([[[1.0], [0.0]], [[0.0], [1.0]]])  # block layout, k = 1
    >>> superpose(facts, [[10.0], [20.0]], slots).tolist()
    [[20.0, 10.0], [10.0, 20.0]]
    """
    code_table = np.asarray(codes, dtype=np.float64)
    maps = np.asarray(read_maps, dtype=np.float64)
    permutations = facts.permutations[:, subjects]  # [R, n_rows]
    embeddings = np.zeros((permutations.shape[1], maps.shape[1]))
    for relation, permutation in enumerate(permutations):
        embeddings += code_table[permutation] @ maps[relation].T
    return embeddings


def memory_plan(
    n_subjects: int,
    n_relations: int,
    d: int,
    *,
    layout: str | Layout = DEFAULT_LAYOUT,
    codebook: str | CodebookFamily = DEFAULT_CODEBOOK,
    dtype: str = "float64",
) -> MemoryPlan:
    """The peak bytes :func:`construct_single_hop` allocates, by part (:mod:`.memory`).

    The draw (and its coherence check where the layout checks it); then the facts, codes and
    read maps (with the QR work of a random one) kept while the weights, in ``dtype``, are
    written with the selector's float64 temporaries or the embeddings of
    :data:`SUBJECT_CHUNK` subjects at a time, whichever is larger.

    Parameters
    ----------
    n_subjects : int
        N, the number of subjects (and of attributes).
    n_relations : int
        R, the number of relations.
    d : int
        d_model, the residual width.
    layout : str or Layout
        Where the relations' codes sit: ``"superposed"`` (the paper's) or ``"block"``.
    codebook : str or CodebookFamily
        The attribute codes' family by name (``"gaussian"``, ``"rademacher"``, ``"grid"``,
        ``"bch"``, ``"mub"``) or as a configured family.
    dtype : str or numpy dtype
        ``"float64"`` or ``"float32"``: the weights' dtype.

    Examples
    --------
    >>> memory_plan(10_000, 8, 24, layout="block", codebook="grid").total < 50 * 2**20
    True
    """
    n_subjects = require_int("n_subjects", n_subjects, minimum=1)
    n_relations = require_int("n_relations", n_relations, minimum=1)
    d = require_int("d", d, minimum=1)
    dtype = require_dtype(dtype, DTYPES)
    layout_object, family = _layout_and_family(layout, codebook)
    config = single_hop_config(
        n_subjects, n_relations, d, layout=layout_object, codebook=family, dtype=dtype
    )
    code_length = config.d_mlp // (2 * n_relations)
    subject_dim = layout_object.subject_dim(n_relations, code_length)
    chunk = min(n_subjects, SUBJECT_CHUNK)
    checked = layout_object.checks_coherence(n_subjects, n_relations, family, code_length)
    facts = FLOAT64 * n_relations * n_subjects
    codes = FLOAT64 * n_subjects * code_length
    read_maps = FLOAT64 * n_relations * subject_dim * code_length
    if not layout_object.superposed:
        read_map_work = 0  # block slots are written in place
    elif family.sign_read_maps:
        read_map_work = read_maps  # stacked from a list of sign diagonals
    else:
        read_map_work = FLOAT64 * 3 * code_length**2  # one Haar map's Gaussian draw and QR
    selector = selector_bytes(d, n_relations, code_length, in_place=layout_object.in_place)
    embeddings = FLOAT64 * 3 * chunk * max(subject_dim, code_length)  # gathered, product, sum
    return MemoryPlan(
        draw=facts
        + max(
            family.draw_bytes(n_subjects, code_length, coherence_checked=checked),
            codes + read_maps + read_map_work,
        ),
        kept=facts + codes + read_maps,
        weights=weight_bytes(config),
        work=max(selector, embeddings),
    )


def code_length_for(
    n_subjects: int,
    n_relations: int,
    *,
    layout: str | Layout = DEFAULT_LAYOUT,
    codebook: str | CodebookFamily = DEFAULT_CODEBOOK,
) -> int:
    """The smallest code length k with a proof, for N subjects and R relations.

    Block: the codebook's minimum for N codes. Superposed with random codes and ``R >= 2``: the
    smallest k at which the exact-tail union bound is at most δ
    (:func:`~geoconstruct.constructions.superposed_bound.superposed_code_length`).

    Parameters
    ----------
    n_subjects : int
        N, the number of subjects (and of attributes).
    n_relations : int
        R, the number of relations.
    layout : str or Layout
        Where the relations' codes sit: ``"superposed"`` (the paper's) or ``"block"``.
    codebook : str or CodebookFamily
        The attribute codes' family by name (``"gaussian"``, ``"rademacher"``, ``"grid"``,
        ``"bch"``, ``"mub"``) or as a configured family.

    Examples
    --------
    >>> code_length_for(10_000, 8, layout="block", codebook="grid"), code_length_for(10_000, 8)
    (2, 634)
    """
    n_subjects = require_int("n_subjects", n_subjects, minimum=1)
    n_relations = require_int("n_relations", n_relations, minimum=1)
    layout_object, family = _layout_and_family(layout, codebook)
    return layout_object.min_code_length(n_subjects, n_relations, family)


def required_dimension(
    n_subjects: int,
    n_relations: int,
    *,
    layout: str | Layout = DEFAULT_LAYOUT,
    codebook: str | CodebookFamily = DEFAULT_CODEBOOK,
) -> int:
    """The smallest ``d`` (``d_model``) at which :func:`construct_single_hop` can be assembled.

    Grid and dual-BCH codes have a structural minimum (distinct codes must fit; a trace code is
    built whole), equal to :func:`proven_dimension`. Random unit codes can be drawn at any length,
    so their construction can be assembled at code length 1; below :func:`proven_dimension`
    nothing is proved and recall is measured (``construction.guarantee`` says so).

    Parameters
    ----------
    n_subjects : int
        N, the number of subjects (and of attributes).
    n_relations : int
        R, the number of relations.
    layout : str or Layout
        Where the relations' codes sit: ``"superposed"`` (the paper's) or ``"block"``.
    codebook : str or CodebookFamily
        The attribute codes' family by name (``"gaussian"``, ``"rademacher"``, ``"grid"``,
        ``"bch"``, ``"mub"``) or as a configured family.

    Raises
    ------
    TypeError, ValueError
        On a size that is not a positive integer, an unknown layout or codebook, or grid codes
        with the superposed layout.

    Examples
    --------
    >>> required_dimension(10_000, 8, layout="block", codebook="grid")   # 8-bit digits: k = 2
    24
    >>> required_dimension(1000, 4)   # gaussian codes, superposed: k = 1
    5
    """
    n_subjects = require_int("n_subjects", n_subjects, minimum=1)
    n_relations = require_int("n_relations", n_relations, minimum=1)
    layout_object, family = _layout_and_family(layout, codebook)
    code_length = layout_object.shortest_code_length(n_subjects, n_relations, family)
    return layout_object.dimension(n_relations, code_length)


def proven_dimension(
    n_subjects: int,
    n_relations: int,
    *,
    layout: str | Layout = DEFAULT_LAYOUT,
    codebook: str | CodebookFamily = DEFAULT_CODEBOOK,
) -> int:
    """The smallest ``d`` at which recall is proved (``construction.guarantee.proved``).

    ``k + R`` for the superposed layout and ``R(k + 1)`` for the block one (``2k + R`` and
    ``(R+1)·k + R`` with a separate output subspace), with k from :func:`code_length_for`.

    Parameters
    ----------
    n_subjects : int
        N, the number of subjects (and of attributes).
    n_relations : int
        R, the number of relations.
    layout : str or Layout
        Where the relations' codes sit: ``"superposed"`` (the paper's) or ``"block"``.
    codebook : str or CodebookFamily
        The attribute codes' family by name (``"gaussian"``, ``"rademacher"``, ``"grid"``,
        ``"bch"``, ``"mub"``) or as a configured family.

    Examples
    --------
    >>> proven_dimension(10_000, 8, layout="block", codebook="grid")
    24
    >>> proven_dimension(1000, 4), proven_dimension(1000, 4, layout="superposed_separate")
    (215, 426)
    """
    code_length = code_length_for(n_subjects, n_relations, layout=layout, codebook=codebook)
    return resolve_layout(layout).dimension(n_relations, code_length)


def single_hop_config(
    n_subjects: int,
    n_relations: int,
    d: int,
    *,
    layout: str | Layout = DEFAULT_LAYOUT,
    codebook: str | CodebookFamily = DEFAULT_CODEBOOK,
    dtype: str = "float64",
) -> TransformerConfig:
    """The config :func:`construct_single_hop` builds at ``d`` (nothing is built).

    Parameters
    ----------
    n_subjects : int
        N, the number of subjects (and of attributes).
    n_relations : int
        R, the number of relations.
    d : int
        d_model, the residual width.
    layout : str or Layout
        Where the relations' codes sit: ``"superposed"`` (the paper's) or ``"block"``.
    codebook : str or CodebookFamily
        The attribute codes' family by name (``"gaussian"``, ``"rademacher"``, ``"grid"``,
        ``"bch"``, ``"mub"``) or as a configured family.
    dtype : str or numpy dtype
        ``"float64"`` or ``"float32"``: the weights' dtype.

    Examples
    --------
    >>> single_hop_config(10_000, 8, 24, layout="block", codebook="grid").d_mlp   # 2·R·k, k = 2
    32
    """
    layout_object, _ = _layout_and_family(layout, codebook)  # validates both
    code_length = max(1, layout_object.code_length_at(n_relations, d))
    vocab = Vocabulary(n_subjects, n_relations, n_attributes=n_subjects)
    subject_dim = layout_object.subject_dim(n_relations, code_length)
    return _model_config(vocab, d, subject_dim, code_length, dtype)


def _model_config(
    vocab: Vocabulary, d: int, subject_dim: int, code_length: int, dtype: str
) -> TransformerConfig:
    """One layer, one head copying the subject subspace, a ``2·R·k``-unit selector, 2 positions."""
    return TransformerConfig(
        d_model=d,
        n_layers=1,
        n_heads=1,
        d_head=subject_dim,
        d_mlp=2 * vocab.n_relations * code_length,
        d_vocab=vocab.d_vocab,
        n_ctx=2,
        dtype=dtype,
    )


def _layout_and_family(
    layout: object, codebook: object, n_relations: int | None = None
) -> tuple[Layout, CodebookFamily]:
    layout_object = resolve_layout(layout)  # type: ignore[arg-type]
    family = resolve_codebook(codebook)  # type: ignore[arg-type]
    layout_object.check_codebook(family, n_relations)
    return layout_object, family
