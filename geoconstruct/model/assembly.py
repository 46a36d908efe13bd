"""Weights assembled from named subspaces by small writers, the way tracr builds its models.

Every construction lays out its residual stream as a :class:`ResidualMap` (a direct sum of named
subspaces), starts from :func:`~geoconstruct.model.transformer.zero_weights`, and writes blocks of
weights with the writers below, each of which touches only the rows and columns of the subspaces
it is given::

    residual = ResidualMap.stack([("subject", d_s), ("relation", R), ("output", k)], d_model=d)
    W = zero_weights(config)
    write_embedding(W, subject_tokens, residual["subject"], subject_embeddings)
    write_one_hot_embedding(W, relation_tokens, residual["relation"])
    write_copy_head(W, 0, residual["subject"], n_positions=2)
    reads = residual.lift("subject", read_maps)
    write_selector(W, reads, gates, residual.basis("output"), gate_threshold=1, gate_scale=λ)
    write_codebook_unembedding(W, residual["output"], attribute_tokens, codebook, output_norm=ν)
    weights = freeze(W)

Writers assign float64 values into arrays already in the model's dtype, so each value is
rounded once. The docstrings outweigh the code on purpose: the writers implement the proofs'
weight constructions (the selector of ``proofs/gate_lemma.md``, the unembedding floor of
``proofs/block_recall.md``), and each states the weights it writes in the proofs' notation.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt

from geoconstruct.codes.protocol import Codebook
from geoconstruct.model.selector import selector_mlp
from geoconstruct.model.transformer import Weights

__all__ = [
    "ResidualMap",
    "freeze",
    "with_subject_rows",
    "write_codebook_unembedding",
    "write_copy_head",
    "write_embedding",
    "write_one_hot_embedding",
    "write_positional_head",
    "write_positional_one_hot",
    "write_selector",
]

FloatArray = npt.NDArray[np.float64]
MutableWeights = dict[str, npt.NDArray[Any]]


@dataclass(frozen=True)
class ResidualMap(Mapping[str, slice]):
    """The residual stream ``[0, d_model)`` as consecutive named subspaces, then ``unused``.

    Examples
    --------
    >>> residual = ResidualMap.stack([("subject", 4), ("relation", 2)], d_model=8)
    >>> residual["relation"], residual.unused
    (slice(4, 6, None), slice(6, 8, None))
    >>> residual.as_dict()
    {'subject': [0, 4], 'relation': [4, 6], 'unused': [6, 8]}
    >>> residual.lift("relation", np.ones((3, 2, 1))).shape   # [n, size, k] -> [n, d_model, k]
    (3, 8, 1)
    >>> residual.basis("relation").tolist()
    [[0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0]]
    """

    spans: tuple[tuple[str, slice], ...]
    d_model: int

    @classmethod
    def stack(cls, sizes: Sequence[tuple[str, int]], d_model: int) -> ResidualMap:
        """Subspaces of the given sizes, one after the other from coordinate 0."""
        spans, start = [], 0
        for name, size in sizes:
            spans.append((name, slice(start, start + size)))
            start += size
        if start > d_model:
            raise ValueError(f"the subspaces need {start} dimensions, d_model is {d_model}")
        return cls(tuple(spans), d_model)

    def __getitem__(self, name: str) -> slice:
        for key, span in self.spans:
            if key == name:
                return span
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self.spans)

    def __len__(self) -> int:
        return len(self.spans)

    @property
    def unused(self) -> slice:
        """Dimensions no weight reads or writes: after the last subspace (some may overlap)."""
        return slice(max((span.stop for _, span in self.spans), default=0), self.d_model)

    def size(self, name: str) -> int:
        """How many coordinates the subspace ``name`` has.

        Parameters
        ----------
        name : str
            A subspace's name (``"subject"``, ``"relation"``, ``"output"``, ...).
        """
        span = self[name]
        return int(span.stop - span.start)

    def as_dict(self) -> dict[str, list[int]]:
        """``{name: [start, stop]}`` for every subspace, ``unused`` included."""
        spans = dict(self.spans) | {"unused": self.unused}
        return {name: [int(span.start), int(span.stop)] for name, span in spans.items()}

    @classmethod
    def from_dict(cls, spans: Mapping[str, Sequence[int]], d_model: int) -> ResidualMap:
        """The inverse of :meth:`as_dict` (``unused`` is implied by the others)."""
        named = tuple((name, slice(*span)) for name, span in spans.items() if name != "unused")
        return cls(named, d_model)

    def lift(self, name: str, maps: npt.ArrayLike) -> FloatArray:
        """Maps ``[n, size, k]`` on subspace ``name`` as maps ``[n, d_model, k]`` on the stream.

        Parameters
        ----------
        name : str
            A subspace's name (``"subject"``, ``"relation"``, ``"output"``, ...).
        maps : ndarray, shape [..., size, k]
            Maps on the named subspace.
        """
        local = np.asarray(maps, dtype=np.float64)
        lifted = np.zeros((local.shape[0], self.d_model, local.shape[2]))
        lifted[:, self[name]] = local
        return lifted

    def basis(self, name: str) -> FloatArray:
        """The subspace's standard basis as rows ``[size, d_model]``.

        Parameters
        ----------
        name : str
            A subspace's name (``"subject"``, ``"relation"``, ``"output"``, ...).
        """
        span = self[name]
        rows = np.zeros((self.size(name), self.d_model))
        rows[np.arange(self.size(name)), span.start + np.arange(self.size(name))] = 1.0
        return rows


def write_embedding(
    W: MutableWeights, tokens: npt.ArrayLike, subspace: slice, vectors: npt.ArrayLike
) -> None:
    """``W_E[tokens, subspace] = vectors`` ([n_tokens, size]).

    Parameters
    ----------
    W : dict of str to ndarray
        The weights being written, in TransformerLens names; changed in place.
    subspace : slice
        The residual coordinates written.
    vectors : array_like, shape [n_tokens, size]
        One vector a token.
    """
    W["embed.W_E"][np.asarray(tokens), subspace] = vectors


def write_one_hot_embedding(W: MutableWeights, tokens: npt.ArrayLike, subspace: slice) -> None:
    """Token ``tokens[i]`` embeds as basis vector i of ``subspace``.

    Parameters
    ----------
    W : dict of str to ndarray
        The weights being written, in TransformerLens names; changed in place.
    subspace : slice
        The residual coordinates written.
    """
    token_ids = np.asarray(tokens)
    W["embed.W_E"][token_ids, subspace.start + np.arange(token_ids.size)] = 1.0


def write_positional_one_hot(W: MutableWeights, subspace: slice) -> None:
    """Position i embeds as basis vector i of ``subspace`` (``W_pos``).

    Parameters
    ----------
    W : dict of str to ndarray
        The weights being written, in TransformerLens names; changed in place.
    subspace : slice
        The residual coordinates written.
    """
    n_positions = W["pos_embed.W_pos"].shape[0]
    W["pos_embed.W_pos"][:, subspace] = np.eye(n_positions)


def write_copy_head(W: MutableWeights, head: int, subspace: slice, n_positions: int) -> None:
    """A head that copies ``subspace`` from the whole prompt to the last position, unscaled.

    ``W_Q = W_K = 0`` make attention uniform, ``1/n`` on each of the ``n_positions`` positions;
    ``W_V`` is the identity on the subspace and ``W_O = n·I`` writes the average back, so a
    subspace that only one token fills arrives exactly.

    Parameters
    ----------
    W : dict of str to ndarray
        The weights being written, in TransformerLens names; changed in place.
    head : int
        The attention head written.
    subspace : slice
        The residual coordinates written.
    n_positions : int
        The prompt length averaged over.
    """
    size = subspace.stop - subspace.start
    W["blocks.0.attn.W_V"][head, subspace, :size] = np.eye(size)
    W["blocks.0.attn.W_O"][head, :size, subspace] = float(n_positions) * np.eye(size)


def write_positional_head(
    W: MutableWeights,
    head: int,
    *,
    position: slice,
    attend_to: int,
    score_gap: float,
    source: slice,
    target: slice,
) -> None:
    """Hard positional attention: ``head`` attends to position ``attend_to`` and copies ``source``.

    Every query position scores position ``attend_to`` at ``score_gap`` and every other position
    at 0 (``q = score_gap·√d_head`` on coordinate 0, ``k = 1`` there from ``W_pos`` only); ``W_V``
    reads ``source`` and ``W_O`` writes it into ``target`` (of the same size).

    Parameters
    ----------
    W : dict of str to ndarray
        The weights being written, in TransformerLens names; changed in place.
    head : int
        The attention head written.
    position : slice
        The positional subspace the scores read.
    attend_to : int
        The position attended.
    score_gap : float
        How far the attended position's score exceeds every other's.
    source : slice
        The subspace copied.
    target : slice
        Where it is written.
    """
    d_head = W["blocks.0.attn.W_Q"].shape[2]
    size = source.stop - source.start
    W["blocks.0.attn.W_Q"][head, position, 0] = score_gap * math.sqrt(d_head)
    W["blocks.0.attn.W_K"][head, position.start + attend_to, 0] = 1.0
    W["blocks.0.attn.W_V"][head, source, :size] = np.eye(size)
    W["blocks.0.attn.W_O"][head, :size, target] = np.eye(size)


def write_selector(
    W: MutableWeights,
    read_maps: npt.ArrayLike,
    gates: npt.ArrayLike,
    output_map: npt.ArrayLike,
    *,
    gate_threshold: float,
    gate_scale: float,
) -> None:
    """The gated selector MLP of :func:`~geoconstruct.model.selector.selector_mlp`: key c opens
    when ``⟨gates[c], x⟩`` reaches ``gate_threshold`` (the number of conditions it checks), and
    ``gate_scale`` (λ) bounds every coordinate it reads.

    Parameters
    ----------
    W : dict of str to ndarray
        The weights being written, in TransformerLens names; changed in place.
    read_maps : array_like, shape [n_keys, d_model, k]
        B_c lifted to the residual stream.
    gates : array_like, shape [n_keys, d_model]
        The gate direction of each key.
    output_map : array_like, shape [k, d_model]
        Where the selected code is written.
    gate_threshold : float
        The gate value below which a key's units stay closed.
    gate_scale : float
        λ, the gate's weight against the code.
    """
    selector = selector_mlp(read_maps, gates, gate_threshold, output_map, gate_scale)
    W["blocks.0.mlp.W_in"][:] = selector.W_in
    W["blocks.0.mlp.b_in"][:] = selector.b_in
    W["blocks.0.mlp.W_out"][:] = selector.W_out
    W["blocks.0.mlp.b_out"][:] = selector.b_out


def write_codebook_unembedding(
    W: MutableWeights,
    subspace: slice,
    answer_tokens: npt.ArrayLike,
    codebook: Codebook,
    *,
    output_norm: float,
) -> None:
    """Decode ``subspace`` to the nearest code; every other token sits below all answers.

    ``W_U[subspace, a] = u_a`` with the codebook's decoding bias for the answer tokens. Every
    answer logit is ``⟨u_a, y⟩ + b_U[a] >= -‖y‖·max‖u‖ + min b_U``; with ``‖y‖ <= output_norm``
    the other tokens get an integer bias strictly below that (an integer, so that integer
    constructions stay exactly representable).

    Parameters
    ----------
    W : dict of str to ndarray
        The weights being written, in TransformerLens names; changed in place.
    subspace : slice
        The output subspace read.
    answer_tokens : array_like of int
        The token of each code, in codebook order.
    codebook : Codebook
        The attribute codes.
    output_norm : float
        The scale of the selected code in the output subspace.
    """
    tokens = np.asarray(answer_tokens)
    bias = codebook.unembedding_bias()
    lowest = -output_norm * codebook.norm_bound + float(bias.min())
    W["unembed.W_U"][subspace, tokens] = codebook.codes.T
    W["unembed.b_U"][:] = float(math.floor(lowest - 1.0))
    W["unembed.b_U"][tokens] = bias


def freeze(W: MutableWeights) -> Weights:
    """The weights as a read-only mapping of read-only, contiguous arrays.

    Parameters
    ----------
    W : dict of str to ndarray
        The finished weights.
    """
    frozen = {}
    for name, array in W.items():
        contiguous = np.ascontiguousarray(array)
        contiguous.flags.writeable = False
        frozen[name] = contiguous
    return MappingProxyType(frozen)


def with_subject_rows(
    weights: Weights, n_subjects: int, columns: slice, rows: npt.ArrayLike
) -> dict[str, npt.NDArray[Any]]:
    """The weights with ``W_E[:n_subjects, columns]`` replaced by ``rows`` (cast to ``W_E``'s
    dtype): a new read-only ``W_E``, every other array the same object.

    The one place a fact-dependent row is rewritten after assembly: quantisation and
    :meth:`~geoconstruct.constructions.construction.Construction.with_subject_embeddings`,
    transfer to new facts, and the intervention probe all go through it.

    Parameters
    ----------
    columns : slice
        The subject subspace.
    rows : array_like, shape [N, size]
        The new subject rows.

    Examples
    --------
    >>> W = freeze({"embed.W_E": np.zeros((3, 2)), "unembed.W_U": np.ones((2, 3))})
    >>> edited = with_subject_rows(W, 2, slice(0, 2), [[1.0, 2.0], [3.0, 4.0]])
    >>> edited["embed.W_E"].tolist(), edited["unembed.W_U"] is W["unembed.W_U"]
    ([[1.0, 2.0], [3.0, 4.0], [0.0, 0.0]], True)
    """
    W_E = np.array(weights["embed.W_E"])  # a writeable copy, W_E's dtype
    W_E[:n_subjects, columns] = rows
    W_E.flags.writeable = False
    return {**weights, "embed.W_E": W_E}
