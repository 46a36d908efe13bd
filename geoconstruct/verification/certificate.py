"""Certified recall: prove that the forward pass answers every single-hop query, in O(N·R·k) work.

Exact recall takes an argmax over all ``d_vocab`` logits for each of the ``N·R`` queries, which is
``O(N²·R·k)``. The certificate proves the same thing from the weights without the argmax
(``proofs/certified_recall.md``). It trusts nothing about the construction: the claims of a
:class:`PromptLayout` (where tokens and subspaces are, which hidden units pair up) are checked
against the weights, and a wrong claim makes the certificate inconclusive, never wrong.

1. **Structure, checked once.** One layer, ``n_ctx = 2``, ``W_Q = b_Q = 0`` in every head (so the
   last position attends exactly 1/2 to each position and its residual is the affine map
   ``x = W_E[s]·A + c_r``); the MLP is a gated selector (hidden units ``2(c·k+j)`` and
   ``2(c·k+j)+1`` are ``relu(z+G)`` and ``relu(-z+G)`` with one gate ``G`` per key ``c`` and
   opposite output rows, the ``+`` row writing exactly ``e_j`` into the output subspace); the
   unembedding reads the output subspace only; its attribute columns are the claimed codebook.
2. **Per query**, from one product of the subject rows of ``W_E`` with the read-outs (a gather
   when they select coordinates, as a construction's do): the selected code ``y`` (with the gate
   lemma's error terms, zero for a construction), and a lower bound on
   ``logit[answer] - max logit[other]`` from the codebook's geometry: distinct integer codes with
   the nearest-neighbour bias (margin ``1/2 - ‖y - u_ans‖``), unit codes of coherence ``μ``
   (margin ``1 - μ - ‖y - u_ans‖·√(2+2μ)``; ``μ`` measured, or in closed form for dual-BCH
   codes), or dual-BCH codes superposed through their sign read maps (margin
   ``1 - μ - 2(R-1)μ_× - ‖y - y_ideal‖·√(2+2μ)``, ``proofs/bch_codes.md``).
3. **Rounding.** The forward pass runs in floating point. Either every weight lies on a grid
   ``2^-f·Z`` and every partial sum stays below ``2^(mantissa-f)``, so the pass is exact, or a
   componentwise bound ``γ_ν(|x||W| + |b|)`` on each product (``ν`` nonzero terms; hidden units
   provably off for a relation excluded) gives ``ε``, the largest error of any logit. A query is
   certified when its margin bound exceeds ``2ε`` and this module's own float64 error.

Queries that are not certified are reported so the caller can run the exact forward pass on them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from geoconstruct.codes.protocol import GRAM_BLOCK_ROWS, Codebook, coherence
from geoconstruct.codes.registry import codebook_family
from geoconstruct.facts import Facts, generator
from geoconstruct.model.transformer import TransformerConfig, Weights

__all__ = [
    "COHERENCE_WORK_LIMIT",
    "Certificate",
    "PromptLayout",
    "certificate_bytes",
    "certify_single_hop",
]

FloatArray = npt.NDArray[np.float64]

COHERENCE_WORK_LIMIT = 5 * 10**10
"""Largest ``M²·k`` for which the certificate computes a random codebook's coherence itself (a
float64 Gram matrix in ``GRAM_BLOCK_ROWS``-row blocks: about 20 s on two cores at the limit)."""

MAX_CHUNK_SUBJECTS = 1 << 16
"""Most subjects per chunk of the certificate's pass over ``W_E``."""

CHUNK_ELEMENTS = 1 << 22
"""Elements of one chunk's ``[k, R, n]`` read-out (32 MiB in float64)."""

MAX_FRACTION_BITS = 8
"""Finest grid ``2^-f`` the exactness test looks for in the weights."""


@dataclass(frozen=True)
class PromptLayout:
    """What a single-hop construction claims about its weights; the certificate checks each claim.

    Prompts are ``[s, relation_offset + r]`` with answer ``attribute_offset + π_r(s)``; the
    unembedding reads residual coordinates ``output`` (``k`` of them); hidden units
    ``2(c·k + j) + σ`` belong to key (relation) ``c``, coordinate ``j``, sign ``σ``.
    ``sign_read_maps``: the subject embeddings superpose dual-BCH codes through the trace code's
    relation signs, so the certificate may also try the closed-form crosstalk bound (it
    recomputes the signs itself; the flag only asks it to try).
    """

    n_subjects: int
    n_relations: int
    relation_offset: int
    attribute_offset: int
    n_attributes: int
    output: slice
    sign_read_maps: bool = False

    @property
    def code_length(self) -> int:
        return int(self.output.stop - self.output.start)


@dataclass(frozen=True, eq=False)
class Certificate:
    """Which queries are proved to be recalled.

    Attributes
    ----------
    certified : ndarray of bool, shape [N·R]
        Query ``q = r·N + s`` is proved to be answered with ``π_r(s)``.
    margins : ndarray of float64, shape [N·R]
        A lower bound on the margin the forward pass computes, ``logit[answer] - max
        logit[other]`` (rounding included), ``-inf`` where no bound holds; a query is certified
        when its bound is positive.
    rounding_error : float
        ``ε``: every logit the forward pass computes is within ``ε`` of its exact value (0 when
        the pass is exact).
    reason : str or None
        Why no query could be certified (a structure check that failed), else None.
    """

    certified: npt.NDArray[np.bool_]
    margins: FloatArray
    rounding_error: float
    reason: str | None

    @property
    def n_certified(self) -> int:
        return int(self.certified.sum())


def certificate_bytes(
    config: TransformerConfig, layout: PromptLayout, *, random_codes: bool = False
) -> int:
    """An upper bound on the bytes :func:`certify_single_hop` allocates beyond the weights.

    Per query a float64 margin and a flag; per chunk of subjects the rows, their product and the
    ``[n, R, k]`` temporaries; the codes and the unembedding's output rows with their temporaries;
    with ``random_codes`` (gaussian or rademacher), a ``GRAM_BLOCK_ROWS``-row block of their
    Gram matrix.

    Parameters
    ----------
    layout : PromptLayout
        Where subject, relation and output sit in the residual stream.
    random_codes : bool
        Whether the codes are random (their coherence is bounded from the codes, one more Gram
        block).
    """
    n_queries = layout.n_subjects * layout.n_relations
    k, d_model = layout.code_length, config.d_model
    columns = layout.n_relations * (k + 1) + k
    chunk = _subject_chunk(layout.n_subjects, layout.n_relations, k)
    per_chunk = chunk * (3 * d_model + 2 * columns + 12 * layout.n_relations)
    unembedding = 4 * k * config.d_vocab + 2 * config.d_vocab + 2 * layout.n_attributes * k
    small = 4 * (d_model + config.d_mlp) * d_model + 4 * layout.n_relations**2 * k
    gram = (
        2 * min(layout.n_attributes, GRAM_BLOCK_ROWS) * layout.n_attributes if random_codes else 0
    )
    return 8 * (per_chunk + unembedding + small + gram) + 9 * n_queries


def certify_single_hop(
    weights: Weights,
    config: TransformerConfig,
    layout: PromptLayout,
    facts: Facts,
    codebook: Codebook,
) -> Certificate:
    """Prove, query by query, that the forward pass recalls ``facts``.

    Parameters
    ----------
    layout : PromptLayout
        Where the construction claims tokens and subspaces are.
    codebook : Codebook
        The claimed attribute codes; ``W_U`` must hold exactly these on the output subspace.

    Returns
    -------
    Certificate
        Never certifies a query the forward pass gets wrong; ``reason`` says why nothing was
        certified when a structure check failed.

    Examples
    --------
    >>> from geoconstruct.constructions.single_hop import construct_single_hop
    >>> c = construct_single_hop(500, 3, 9, layout="block", codebook="grid", seed=0)
    >>> layout = c.queries.prompt_layout(c)
    >>> certificate = certify_single_hop(c.weights, c.config, layout, c.facts, c.codebook)
    >>> certificate.n_certified, certificate.rounding_error, certificate.reason
    (1500, 0.0, None)
    """
    n_queries = facts.n_facts
    structure = _selector_structure(weights, config, layout)
    decoding = (
        structure if isinstance(structure, str) else _decoding_geometry(weights, layout, codebook)
    )
    if isinstance(structure, str) or isinstance(decoding, str):
        return Certificate(
            certified=np.zeros(n_queries, bool),
            margins=np.full(n_queries, -np.inf),
            rounding_error=math.inf,
            reason=decoding if isinstance(decoding, str) else str(structure),
        )
    margins, subject_rows, own_error = _margin_bounds(weights, layout, facts, structure, decoding)
    rounding = _rounding_error(weights, config, layout, structure, subject_rows)
    # A computed logit is within ε of the exact one, so the computed margin is >= bound - 2ε.
    margins -= 2.0 * rounding + own_error
    return Certificate(certified=margins > 0, margins=margins, rounding_error=rounding, reason=None)


# --- 1. Structure ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Structure:
    """The affine form of the last position, read off verified weights (all float64).

    ``x(s, r) = W_E[s] @ attention_map + relation_constants[r]`` is the residual after attention;
    ``z_cj = x·reads[:, c, j]`` and ``G_c = x·gates[:, c] + gate_biases[c]`` feed the selector.
    """

    attention_map: FloatArray  # [d_model, d_model]
    relation_constants: FloatArray  # [R, d_model]
    reads: FloatArray  # [d_model, R, k]
    gates: FloatArray  # [d_model, R]
    gate_biases: FloatArray  # [R]
    output_bias: FloatArray  # [k], b_out on the output subspace
    exact: bool  # every product above was computed without rounding
    attention_map_error: FloatArray  # [d_model, d_model], bounds |computed − exact| of A
    relation_constants_error: FloatArray  # [R, d_model], the same for c_r


def _selector_structure(
    weights: Weights, config: TransformerConfig, layout: PromptLayout
) -> _Structure | str:
    """Check the structure the theorem needs; return the affine form, or why it fails."""
    if config.n_layers != 1 or config.n_ctx != 2:
        return (
            f"the certificate needs one layer and n_ctx = 2, "
            f"got {config.n_layers} layers and n_ctx = {config.n_ctx}"
        )
    n_relations, k = layout.n_relations, layout.code_length
    if config.d_mlp != 2 * n_relations * k:
        return f"d_mlp = {config.d_mlp} is not 2·R·k = {2 * n_relations * k}"
    W = {
        name: np.asarray(array, dtype=np.float64)
        for name, array in weights.items()
        if not name.startswith(("embed.", "unembed."))
    }
    if np.any(W["blocks.0.attn.W_Q"]) or np.any(W["blocks.0.attn.b_Q"]):
        return "W_Q or b_Q is not zero: the attention pattern depends on the prompt"
    if not all(np.all(np.isfinite(array)) for array in W.values()):
        return "a weight is not finite"
    W_K, b_K = W["blocks.0.attn.W_K"], W["blocks.0.attn.b_K"]
    if np.any(W_K) or np.any(b_K):
        # q = 0 makes every score 0 as long as the keys are finite; zero keys are the simple case.
        return "W_K or b_K is not zero"

    W_V, b_V, W_O = W["blocks.0.attn.W_V"], W["blocks.0.attn.b_V"], W["blocks.0.attn.W_O"]
    W_pos = W["pos_embed.W_pos"]
    # The last position attends 1/2 to each position:
    # x = r1 + Σ_h ½(r0 + r1)·W_V·W_O + b_V·W_O + b_O.
    half_value_output = 0.5 * np.einsum("hde,hef->df", W_V, W_O)  # A [d_model, d_model]
    value_bias = np.einsum("he,hef->f", b_V, W_O) + W["blocks.0.attn.b_O"]
    relation_rows = np.asarray(
        weights["embed.W_E"][layout.relation_offset : layout.relation_offset + n_relations],
        dtype=np.float64,
    )
    r1 = relation_rows + W_pos[1]
    relation_constants = r1 + r1 @ half_value_output + W_pos[0] @ half_value_output + value_bias
    if not np.all(np.isfinite(relation_rows)):
        return "a relation embedding is not finite"

    W_in, b_in = W["blocks.0.mlp.W_in"], W["blocks.0.mlp.b_in"]
    W_out = W["blocks.0.mlp.W_out"]
    plus, minus = W_in[:, 0::2], W_in[:, 1::2]  # [d_model, R·k]
    reads, gates = (plus - minus) / 2, (plus + minus) / 2
    if not (np.array_equal(reads + gates, plus) and np.array_equal(gates - reads, minus)):
        return "the selector's unit pairs do not split exactly into a read and a gate"
    gates = gates.reshape(-1, n_relations, k)
    biases = b_in.reshape(n_relations, k, 2)
    if not (np.all(gates == gates[:, :, :1]) and np.all(biases == biases[:, :1, :1])):
        return "the selector's units of one relation do not share one gate"
    output = np.zeros((k, config.d_model))
    output[np.arange(k), layout.output.start + np.arange(k)] = 1.0
    plus_rows = W_out[0::2].reshape(n_relations, k, config.d_model)
    if not (
        np.array_equal(W_out[1::2], -W_out[0::2])
        and np.array_equal(
            plus_rows[:, :, layout.output],
            np.broadcast_to(output[:, layout.output], plus_rows[:, :, layout.output].shape),
        )
    ):
        return "the selector's output rows are not ±e_j on the output subspace"

    # What float64 may have rounded in A and c_r (zero when the products are exact, below).
    abs_map = 0.5 * np.einsum("hde,hef->df", np.abs(W_V), np.abs(W_O))
    map_error = _gamma(config.n_heads * config.d_head, np.float64) * abs_map
    abs_r1 = np.abs(r1)
    constants_error = _gamma(
        2 * config.d_model + config.n_heads * config.d_head + 4, np.float64
    ) * (
        abs_r1
        + abs_r1 @ abs_map
        + np.abs(W_pos[0]) @ abs_map
        + np.einsum("he,hef->f", np.abs(b_V), np.abs(W_O))
        + np.abs(W["blocks.0.attn.b_O"])
    )
    identity = np.eye(config.d_model)
    selector = np.concatenate([reads, gates[:, :, 0]], axis=1)
    exact = (
        _sum_of_products_exact([(0.5 * W_V[h], W_O[h]) for h in range(config.n_heads)])
        and _sum_of_products_exact([(half_value_output, selector)])
        and _sum_of_products_exact(
            [(r1, identity), (r1, half_value_output), (W_pos[:1], half_value_output)]
            + [(b_V[h : h + 1], W_O[h]) for h in range(config.n_heads)]
            + [(W["blocks.0.attn.b_O"][None, :], identity)]
        )
        and _sum_of_products_exact([(relation_constants, selector)])
    )
    return _Structure(
        attention_map=half_value_output,
        relation_constants=relation_constants,
        reads=reads.reshape(-1, n_relations, k),
        gates=gates[:, :, 0],
        gate_biases=biases[:, 0, 0],
        output_bias=W["blocks.0.mlp.b_out"][layout.output],
        exact=exact,
        attention_map_error=np.zeros_like(map_error) if exact else map_error,
        relation_constants_error=np.zeros_like(constants_error) if exact else constants_error,
    )


# --- 2. Decoding geometry -------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Decoding:
    """What the unembedding guarantees, read off ``W_U`` and ``b_U``.

    Attribute logits are ``⟨y, u_a⟩ + b_U[a]`` with ``b_U[a] = -‖u_a‖²/2 + η_a`` (nearest
    neighbour) or ``η_a`` (inner product), ``|η_a| <= bias_error``. Every other token's logit is at
    most ``‖y‖·other_norm + other_bias``.
    """

    rule: str  # "nearest_neighbour": distinct integer codes; "inner_product": unit codes
    codes: FloatArray  # [M, k], the codes as W_U holds them
    attribute_bias: FloatArray  # [M]
    bias_error: float
    coherence: float  # inner product: max |⟨u_a, u_b⟩| over a ≠ b
    norm_error: float  # inner product: max |‖u_a‖ - 1|
    other_norm: float
    other_bias: float
    relation_signs: FloatArray | None  # [R, k]: trace-code sign read maps, recomputed here
    crosstalk: float  # |⟨s_r ⊙ s_r' ⊙ u_a, u_b⟩| bound for r != r' (closed form)


def _decoding_geometry(
    weights: Weights, layout: PromptLayout, codebook: Codebook
) -> _Decoding | str:
    """Check that ``W_U`` decodes the claimed codebook and measure what the margin bound needs."""
    W_U, b_U = weights["unembed.W_U"], weights["unembed.b_U"]
    output, k = layout.output, layout.code_length
    outside = [row for row in range(W_U.shape[0]) if not output.start <= row < output.stop]
    if any(np.count_nonzero(W_U[row]) for row in outside):
        return "W_U reads residual coordinates outside the output subspace"
    attributes = slice(layout.attribute_offset, layout.attribute_offset + layout.n_attributes)
    codes = np.ascontiguousarray(W_U[output, attributes].T, dtype=np.float64)  # [M, k]
    claimed = np.asarray(codebook.codes, dtype=W_U.dtype).astype(np.float64)
    if codebook.code_length != k or not np.array_equal(codes, claimed):
        return "W_U's attribute columns are not the claimed codebook"
    attribute_bias = np.asarray(b_U[attributes], dtype=np.float64)
    norms = np.linalg.norm(codes, axis=1)
    relation_signs, crosstalk = None, math.inf

    if codebook.decoding == "nearest_neighbour":
        bits = round(math.log2(2 * codebook.coordinate_bound))
        grid = codebook_family(codebook.family, bits=bits).build(
            layout.n_attributes,
            k,
            generator(0),  # deterministic: nothing is drawn
        )
        if not np.array_equal(codes, grid.codes):
            return "the nearest-neighbour codes are not the grid family's distinct integer codes"
        squared_norms = np.einsum("mk,mk->m", codes, codes)
        bias_error = float(np.max(np.abs(attribute_bias + 0.5 * squared_norms), initial=0.0))
        code_coherence, norm_error = 0.0, 0.0
    elif codebook.trace_code is not None:
        trace_code = codebook.trace_code
        words = trace_code.codes(layout.n_attributes, k).astype(W_U.dtype).astype(np.float64)
        if not np.array_equal(codes, words):
            return "the codes are not the words of the claimed dual-BCH trace code"
        # closed forms (Weil bound), evaluated in float64 with a square root and a division
        code_coherence = trace_code.coherence_bound * (1 + _gamma(4, np.float64))
        bias_error = float(np.max(np.abs(attribute_bias), initial=0.0))
        norm_error = _measured_norm_error(norms, k)
        if layout.sign_read_maps:
            relation_signs = trace_code.relation_signs(layout.n_relations, k)
            crosstalk = trace_code.crosstalk_bound * (1 + _gamma(4, np.float64))
    else:
        if layout.n_attributes**2 * k > COHERENCE_WORK_LIMIT:
            return (
                f"the coherence of {layout.n_attributes} random codes of length {k} is too costly "
                f"to verify (M²·k > {COHERENCE_WORK_LIMIT:.0e})"
            )
        # measured in float64: the normalised inner products are within γ_{2k+8} of the exact ones
        measured = coherence(codes) if layout.n_attributes > 1 else 0.0
        code_coherence = measured + _gamma(2 * k + 8, np.float64) if layout.n_attributes > 1 else 0
        bias_error = float(np.max(np.abs(attribute_bias), initial=0.0))
        norm_error = _measured_norm_error(norms, k)

    others = np.ones(W_U.shape[1], bool)
    others[attributes] = False
    other_columns = np.asarray(W_U[output][:, others], dtype=np.float64)
    other_norm = float(np.max(np.linalg.norm(other_columns, axis=0), initial=0.0))
    other_bias = float(np.max(np.asarray(b_U[others], dtype=np.float64), initial=-np.inf))
    return _Decoding(
        rule=codebook.decoding,
        codes=codes,
        attribute_bias=attribute_bias,
        bias_error=bias_error,
        coherence=code_coherence,
        norm_error=norm_error,
        other_norm=other_norm,
        other_bias=other_bias,
        relation_signs=relation_signs,
        crosstalk=crosstalk,
    )


# --- 3. Per-query margins -------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _SubjectRows:
    """What the margin pass learns about the subject rows of ``W_E`` on the way."""

    magnitude: FloatArray  # [d_model], max_s |W_E[s, i]|
    fraction_bits: int | None  # the rows lie on 2^-f·Z (None: not on a grid we track)
    output_magnitude: float = math.inf  # bounds every exact output coordinate y_j, every query


def _margin_bounds(
    weights: Weights,
    layout: PromptLayout,
    facts: Facts,
    structure: _Structure,
    decoding: _Decoding,
) -> tuple[FloatArray, _SubjectRows, float]:
    """Margin lower bounds for every query (``q = r·N + s``), in chunks of subjects.

    Works on planes of shape [R, n] (relation × subject, like the query order), one per code
    coordinate, so every operation runs over contiguous memory. Returns the bounds, what was
    learnt about the subject rows, and a bound on this function's own float64 error in a margin.
    """
    n_subjects, n_relations, k = layout.n_subjects, layout.n_relations, layout.code_length
    d_model = structure.attention_map.shape[0]
    A = structure.attention_map
    reads = structure.reads.transpose(0, 2, 1).reshape(d_model, k * n_relations)  # (j, c)
    # One product gives, per subject, every relation's read, every gate and the output subspace.
    columns = np.concatenate([A @ reads, A @ structure.gates, A[:, layout.output]], axis=1)
    C = structure.relation_constants  # [R, d_model]
    read_constants = (C @ reads).reshape(n_relations, k, n_relations)  # [r, j, c]
    gate_constants = C @ structure.gates + structure.gate_biases  # [r, c]
    output_constants = C[:, layout.output] + structure.output_bias  # [r, j]
    relation_ids = np.arange(n_relations)
    # closed_relation[r] bounds G_c + |z_cj| from the relation side, over the closed keys c != r.
    closed = gate_constants + np.abs(read_constants).max(axis=1)
    closed[relation_ids, relation_ids] = -np.inf
    closed_relation = closed.max(axis=1)[:, None]  # [R, 1]
    open_read = read_constants[relation_ids, :, relation_ids]  # [r, j]
    open_gate = gate_constants[relation_ids, relation_ids][:, None]  # [R, 1]
    # y_j = (subject's output_j) + (subject's read of key r, coordinate j) + constant[r, j].
    y_constants = (output_constants + open_read)[:, :, None]  # [R, k, 1]

    selection = _ColumnProduct(columns)
    signs = decoding.relation_signs  # [R, k] or None
    margins = np.empty((n_relations, n_subjects))
    magnitude = np.zeros(d_model)
    fraction_bits: int | None = 0
    largest_y = 0.0
    largest_exact_y = 0.0  # |y_j| plus Step 2's per-coordinate error: bounds the exact y_j
    W_E = weights["embed.W_E"]
    codes_by_coordinate = np.ascontiguousarray(decoding.codes.T)  # [k, M]
    attribute_bias = decoding.attribute_bias
    chunk = _subject_chunk(n_subjects, n_relations, k)
    for start in range(0, n_subjects, chunk):
        stop = min(start + chunk, n_subjects)
        rows = np.asarray(W_E[start:stop], dtype=np.float64)  # [n, d_model]
        magnitude = np.maximum(magnitude, np.abs(rows).max(axis=0))
        if fraction_bits is not None:
            chunk_bits = _fraction_bits(rows)
            fraction_bits = None if chunk_bits is None else max(fraction_bits, chunk_bits)
        product = selection.apply(rows)  # [columns, n]
        subject_reads = product[: k * n_relations].reshape(k, n_relations, -1)  # [j, c, n]
        subject_gates = product[k * n_relations : (k + 1) * n_relations]  # [c, n]
        subject_output = product[(k + 1) * n_relations :]  # [j, n]

        # Gate lemma, closed keys: each pair's output is at most relu(G_c + |z_cj|).
        closed_subject = (subject_gates + np.abs(subject_reads).max(axis=0)).max(axis=0)
        leak = np.maximum(closed_subject[None, :] + closed_relation, 0.0)  # [R, n]
        # Open key: the pair outputs z exactly when G = 0, and within |G| of it otherwise.
        y_error = math.sqrt(k) * (np.abs(subject_gates + open_gate) + (n_relations - 1) * leak)

        answers = facts.permutations[:, start:stop]  # [R, n]
        squared_distance = np.zeros_like(leak)
        squared_norm = np.zeros_like(leak)
        expected_squared_norm = np.zeros_like(leak)
        answer_logit = attribute_bias[answers]
        if signs is not None:
            # The ideal superposition s_r ⊙ Σ_r' s_r' ⊙ u_{π_r'(s)}, coordinate by coordinate.
            superposed = np.zeros((k, stop - start))
            for relation in range(n_relations):
                superposed += signs[relation][:, None] * codes_by_coordinate[:, answers[relation]]
            squared_deviation = np.zeros_like(leak)
        for j in range(k):
            y = subject_reads[j] + subject_output[j] + y_constants[:, j]  # [R, n]
            expected = codes_by_coordinate[j][answers]
            largest_y = max(largest_y, float(np.abs(y).max(initial=0.0)))
            largest_exact_y = max(
                largest_exact_y, float((np.abs(y) + y_error / math.sqrt(k)).max(initial=0.0))
            )
            if signs is not None:
                squared_deviation += (y - signs[:, j, None] * superposed[j]) ** 2
            squared_distance += (y - expected) ** 2
            squared_norm += y**2
            expected_squared_norm += expected**2
            answer_logit += y * expected
        # This function's own rounding, per query (γ of the k-term sums and square roots).
        gamma = _gamma(k + 4, np.float64)
        norm, expected_norm = np.sqrt(squared_norm), np.sqrt(expected_squared_norm)
        distance = np.sqrt(squared_distance) * (1 + gamma) + y_error
        if decoding.rule == "nearest_neighbour":
            # Distinct integer codes are >= 1 apart: every other code is >= 1 - δ from y.
            attribute = np.where(distance <= 1.0, 0.5 - distance, -np.inf)
            attribute -= 2 * decoding.bias_error
        else:
            mu, nu = decoding.coherence, decoding.norm_error
            clean_margin = (1 - nu) ** 2 - mu * (1 + nu) ** 2 - 2 * decoding.bias_error
            attribute = clean_margin - distance * ((1 + nu) * math.sqrt(2 + 2 * mu))
            if signs is not None:
                # Closed-form crosstalk: the ideal read-out has margin >= ρ²(1 - μ - 2(R-1)μ_x).
                interference = mu + 2 * (n_relations - 1) * decoding.crosstalk
                # ρ²(1 − I) over ρ in [1 − ν, 1 + ν]: its smallest value at either end
                ideal = min((1 - nu) ** 2 * (1 - interference), (1 + nu) ** 2 * (1 - interference))
                ideal -= 2 * decoding.bias_error
                deviation = np.sqrt(squared_deviation) * (1 + gamma) + y_error
                attribute = np.maximum(
                    attribute, ideal - deviation * ((1 + nu) * math.sqrt(2 + 2 * mu))
                )
        answer_logit -= y_error * expected_norm
        other_logit = (norm + y_error) * decoding.other_norm + decoding.other_bias
        other_margin = answer_logit - other_logit
        other_margin -= gamma * (
            2 * np.abs(attribute_bias[answers])
            + (norm + y_error) * (expected_norm + decoding.other_norm)
            + abs(decoding.other_bias)
        )
        bound = np.minimum(attribute - gamma * distance, other_margin)
        margins[:, start:stop] = np.where(np.isnan(bound), -np.inf, bound)

    # The float64 error of y itself: none when every product above is exact, else γ of its
    # terms; a margin is Lipschitz in y with constant at most 2 + max‖u‖ + other_norm.
    code_norm = float(np.linalg.norm(decoding.codes, axis=1).max(initial=0.0))
    lipschitz = 2 + code_norm + decoding.other_norm
    subject_product = [(magnitude[None, :], np.abs(columns), fraction_bits)]
    if structure.exact and _sum_of_products_exact(subject_product):
        own_error = 0.0
    else:
        # γ of the terms |W_E[s]|·|A|·|column|, not of the computed product (which may cancel)
        abs_A = np.abs(A)
        terms = np.concatenate(
            [abs_A @ np.abs(reads), abs_A @ np.abs(structure.gates), abs_A[:, layout.output]],
            axis=1,
        )
        scale = float(magnitude @ terms.max(axis=1)) + float(np.abs(y_constants).max())
        own_error = _gamma(4 * d_model + 8, np.float64) * (scale + largest_y) * math.sqrt(k)
        # and what A and c_r carry from their own float64 products into every read and gate
        selector = np.abs(np.concatenate([reads, structure.gates], axis=1))
        carried = (magnitude @ structure.attention_map_error) @ selector
        carried += (structure.relation_constants_error @ selector).max(axis=0)
        own_error += float(carried.max(initial=0.0)) * math.sqrt(k)
        own_error *= lipschitz
    # Where this function's products were exact, y is the exact output up to Step 2's error.
    output_magnitude = largest_exact_y if own_error == 0.0 else math.inf
    rows_seen = _SubjectRows(magnitude, fraction_bits, output_magnitude)
    return margins.reshape(-1), rows_seen, float(own_error)


# --- 4. Rounding of the forward pass --------------------------------------------------------


def _rounding_error(
    weights: Weights,
    config: TransformerConfig,
    layout: PromptLayout,
    structure: _Structure,
    subject_rows: _SubjectRows,
) -> float:
    """ε: a bound on |computed - exact| for every logit of every query; 0 when the pass is exact.

    Tracks, componentwise, a bound ``m`` on every intermediate value and ``e`` on its error
    through the pass at the last position (``pattern = [1/2, 1/2]`` exactly, see
    :func:`_selector_structure`). A product ``x @ W + b`` computed in floating point adds at most
    ``γ_{n+1}·(|x̂||W| + |b|)`` (``γ_n = n·u / (1 - n·u)``, any summation order). If every weight is
    on a grid ``2^-f·Z`` and every stage's ``max(m)·2^f`` is below ``2^mantissa``, no operation
    rounds and ε = 0.
    """
    dtype = np.dtype(config.dtype)
    unit = float(np.finfo(dtype).eps) / 2
    mantissa = np.finfo(dtype).nmant + 1

    def array(name: str) -> FloatArray:
        return np.asarray(weights[name], dtype=np.float64)

    W_V, b_V, W_O = (
        array("blocks.0.attn.W_V"),
        array("blocks.0.attn.b_V"),
        array("blocks.0.attn.W_O"),
    )
    b_O, W_pos = array("blocks.0.attn.b_O"), array("pos_embed.W_pos")
    W_in, b_in = array("blocks.0.mlp.W_in"), array("blocks.0.mlp.b_in")
    W_out, b_out = array("blocks.0.mlp.W_out"), array("blocks.0.mlp.b_out")
    relations = slice(layout.relation_offset, layout.relation_offset + layout.n_relations)
    relation_rows = np.asarray(weights["embed.W_E"][relations], dtype=np.float64)
    W_U_output = np.asarray(weights["unembed.W_U"][layout.output], dtype=np.float64)  # [k, d_vocab]
    b_U = array("unembed.b_U")

    # Exactness: the grid each stage lives on, and whether its magnitudes fit the mantissa.
    bits = {
        "E": subject_rows.fraction_bits,
        "rel": _fraction_bits(relation_rows),
        "pos": _fraction_bits(W_pos),
        "V": _fraction_bits(W_V),
        "bV": _fraction_bits(b_V),
        "O": _fraction_bits(W_O),
        "bO": _fraction_bits(b_O),
        "in": _fraction_bits(W_in),
        "bin": _fraction_bits(b_in),
        "out": _fraction_bits(W_out),
        "bout": _fraction_bits(b_out),
        "U": _fraction_bits(W_U_output),
        "bU": _fraction_bits(b_U),
    }
    exact = all(value is not None for value in bits.values())

    def product_bits(x_bits: int, w: str, b: str) -> int:
        return max(x_bits + (bits[w] or 0), bits[b] or 0)

    W_V_flat = np.abs(W_V).transpose(1, 0, 2).reshape(config.d_model, -1)  # [d_model, H·d_head]
    b_V_flat = np.abs(b_V).reshape(-1)
    W_O_flat = np.abs(W_O).reshape(-1, config.d_model)

    def affine(
        m: FloatArray, e: FloatArray, W: FloatArray, b: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        # Zero products are exact, so only the nonzero terms of a column count (and the bias).
        gamma = _gamma(int(np.count_nonzero(W, axis=0).max(initial=0)) + 1, dtype)
        return m @ W + b, e @ W + gamma * ((m + e) @ W + b)

    def add(
        m1: FloatArray, e1: FloatArray, m2: FloatArray, e2: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        return m1 + m2, e1 + e2 + unit * (m1 + e1 + m2 + e2)

    zero = np.zeros(config.d_model)
    stages: list[tuple[FloatArray, int]] = []
    r0, e_r0 = add(subject_rows.magnitude, zero, np.abs(W_pos[0]), zero)
    r1, e_r1 = add(np.abs(relation_rows).max(axis=0), zero, np.abs(W_pos[1]), zero)
    f_r0 = max(bits["E"] or 0, bits["pos"] or 0)
    f_r1 = max(bits["rel"] or 0, bits["pos"] or 0)
    stages += [(r0, f_r0), (r1, f_r1)]
    v0, e_v0 = affine(r0, e_r0, W_V_flat, b_V_flat)
    v1, e_v1 = affine(r1, e_r1, W_V_flat, b_V_flat)
    f_v = max(product_bits(f_r0, "V", "bV"), product_bits(f_r1, "V", "bV"))
    stages += [(v0, f_v), (v1, f_v)]
    z = 0.5 * (v0 + v1)  # pattern @ v, a two-term dot product per coordinate
    e_z = 0.5 * (e_v0 + e_v1) + _gamma(2, dtype) * 0.5 * (v0 + e_v0 + v1 + e_v1)
    f_z = f_v + 1
    stages.append((z, f_z))
    attn, e_attn = affine(z, e_z, W_O_flat, np.abs(b_O))
    f_attn = product_bits(f_z, "O", "bO")
    x, e_x = add(r1, e_r1, attn, e_attn)
    f_x = max(f_r1, f_attn)
    stages += [(attn, f_attn), (x, f_x)]
    pre, e_pre = affine(x, e_x, np.abs(W_in), np.abs(b_in))
    f_pre = product_bits(f_x, "in", "bin")
    mlp_out, _ = affine(pre, e_pre, np.abs(W_out), np.abs(b_out))  # relu is 1-Lipschitz
    f_mlp = product_bits(f_pre, "out", "bout")
    final, _ = add(x, e_x, mlp_out, zero)
    f_final = max(f_x, f_mlp)
    stages += [(pre, f_pre), (mlp_out, f_mlp), (final, f_final)]
    output = layout.output
    abs_W_U = np.abs(W_U_output)
    # The output coordinates are what the margin pass computed (exactly, when its products were):
    # the stagewise bound above forgets that the open pair cancels what the residual holds.
    final_output = np.minimum(final[output], subject_rows.output_magnitude)
    logit_magnitude = final_output @ abs_W_U + np.abs(b_U)  # [d_vocab]
    stages.append((logit_magnitude, product_bits(f_final, "U", "bU")))
    if exact and all(
        np.all(np.isfinite(m)) and float(np.max(m, initial=0.0)) * 2.0**f < 2.0**mantissa
        for m, f in stages
    ):
        return 0.0

    # Rounding: per relation, a hidden unit whose exact pre-activation is at most -e_pre computes
    # a non-positive value too, so relu gives exactly 0 in both and the unit adds no error.
    # upper[r] = (c_r @ W_in + b_in) + |W_E[s]·A| @ |W_in| bounds the exact pre-activation.
    abs_W_in, abs_W_out = np.abs(W_in), np.abs(W_out)
    centres = structure.relation_constants @ W_in + b_in  # [R, d_mlp]
    centres_slack = _gamma(config.d_model + 2, np.float64) * (
        np.abs(structure.relation_constants) @ abs_W_in + np.abs(b_in)
    )
    spread = (subject_rows.magnitude @ np.abs(structure.attention_map)) @ abs_W_in
    worst = 0.0
    for relation in range(layout.n_relations):
        upper = centres[relation] + centres_slack[relation] + spread
        active = upper + e_pre > 0
        m_hidden = np.where(active, np.maximum(upper, 0.0), 0.0)
        e_hidden = np.where(active, e_pre, 0.0)
        mlp_out, e_mlp = affine(m_hidden, e_hidden, abs_W_out, np.abs(b_out))
        final, e_final = add(x, e_x, mlp_out, e_mlp)
        W_U_gamma = _gamma(int(np.count_nonzero(W_U_output, axis=0).max(initial=0)) + 1, dtype)
        logit_error = e_final[output] @ abs_W_U + W_U_gamma * (
            (final + e_final)[output] @ abs_W_U + np.abs(b_U)
        )
        worst = max(worst, float(np.max(logit_error, initial=0.0)))
    return worst if np.isfinite(worst) else math.inf


def _subject_chunk(n_subjects: int, n_relations: int, code_length: int) -> int:
    """Subjects per chunk: at most MAX_CHUNK_SUBJECTS, with [k+2, R, n] within CHUNK_ELEMENTS."""
    per_subject = n_relations * (code_length + 2)
    return max(1, min(MAX_CHUNK_SUBJECTS, n_subjects, CHUNK_ELEMENTS // per_subject))


class _ColumnProduct:
    """``columns.T @ rows.T``, as a gather when every column has at most one nonzero entry.

    A construction's read-outs select coordinates (with a sign or a factor), so the product of a
    chunk of ``W_E`` rows with them costs O(n·columns) instead of O(n·d_model·columns).
    """

    def __init__(self, columns: FloatArray) -> None:
        self.columns = columns
        self.sparse = bool(np.all(np.count_nonzero(columns, axis=0) <= 1))
        self.index = np.argmax(columns != 0, axis=0)  # the nonzero row of each column (or 0)
        self.value = columns[self.index, np.arange(columns.shape[1])][:, None]

    def apply(self, rows: FloatArray) -> FloatArray:
        if not self.sparse:
            product: FloatArray = self.columns.T @ rows.T
            return product
        gathered: FloatArray = rows.T[self.index] * self.value
        return gathered


def _sum_of_products_exact(
    products: list[tuple[FloatArray, FloatArray]] | list[tuple[FloatArray, FloatArray, int | None]],
) -> bool:
    """Whether float64 computes ``Σ left @ right`` exactly, in any order.

    True when every factor lies on a grid ``2^-f·Z`` and ``Σ |left| @ |right|``, the largest any
    partial sum can be, is below ``2^(52 - f_left - f_right)``: every intermediate is then a
    float64 number. A third item in a tuple gives the left factor's grid when it is known.
    """
    largest, finest = 0.0, 0
    total: FloatArray | None = None
    for item in products:
        left, right = item[0], item[1]
        left_bits = item[2] if len(item) == 3 else _fraction_bits(left)
        right_bits = _fraction_bits(right)
        if left_bits is None or right_bits is None:
            return False
        finest = max(finest, left_bits + right_bits)
        term = np.abs(left) @ np.abs(right)
        total = term if total is None else total + term
    if total is not None:
        largest = float(np.max(total, initial=0.0))
    return bool(np.isfinite(largest)) and largest * 2.0**finest < 2.0**52


def _measured_norm_error(norms: FloatArray, code_length: int) -> float:
    """ν: ``max |‖u_a‖ − 1|`` from float64 norms, widened by their own rounding (γ_{k+2})."""
    measured = float(np.max(np.abs(norms - 1.0), initial=0.0))
    return measured + _gamma(code_length + 2, np.float64) * (1 + measured)


def _gamma(n: int, dtype: Any) -> float:
    """``γ_n = n·u / (1 - n·u)``, the relative error bound of an n-term floating-point sum."""
    unit = float(np.finfo(dtype).eps) / 2
    return n * unit / (1 - n * unit)


def _fraction_bits(values: npt.ArrayLike) -> int | None:
    """The smallest ``f <= MAX_FRACTION_BITS`` with ``values ⊂ 2^-f·Z``, or None.

    Examples
    --------
    >>> _fraction_bits([3.0, -2.5, 0.25]), _fraction_bits([1.0, 2.0]), _fraction_bits([0.1])
    (2, 0, None)
    """
    scaled = np.asarray(values, dtype=np.float64) * 2.0**MAX_FRACTION_BITS
    if not np.all(np.abs(scaled) < 2.0**62) or not np.array_equal(scaled, np.rint(scaled)):
        return None
    combined = int(np.bitwise_or.reduce(scaled.astype(np.int64).ravel(), initial=0))
    if combined == 0:
        return 0
    trailing_zeros = (combined & -combined).bit_length() - 1
    return max(0, MAX_FRACTION_BITS - trailing_zeros)
