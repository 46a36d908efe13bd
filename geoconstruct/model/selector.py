"""The ReLU-gated selector MLP, shared by single- and multi-hop constructions.

For every selector key ``c`` (a relation, or a chain of relations) and code coordinate ``j`` there
are two hidden units::

    h± = relu( ±(B_cᵀ x)_j + λ·(⟨g_c, x⟩ - m) ),     output_j += h+ - h-

where ``⟨g_c, x⟩`` counts how many of the key's ``m`` conditions the residual ``x`` meets (for a
single hop: ``x_rel[c]``, one condition). **Gate lemma** (``proofs/gate_lemma.md``): if
``|z| <= λ`` and the gate value ``G = ⟨g_c, x⟩ - m`` is 0 (open) or an integer ``<= -1`` (closed),
then ``relu(z + λG) - relu(-z + λG)`` equals ``z`` when open and ``0`` when closed. So the MLP
writes ``B_cᵀ x`` for exactly the key the prompt asks for, and nothing for the others.

Its docstrings outweigh its code on purpose: it implements the gate lemma, and each function
states, in the proof's notation, the condition it writes the weights under.

The MLP has ``2·n_keys·k`` hidden units and depends on no fact: ``λ`` must bound ``|(B_cᵀ x)_j|``
for *every* possible set of facts, not for the current embeddings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["SelectorMLP", "gated_difference", "selector_mlp"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class SelectorMLP:
    """The four MLP arrays in TransformerLens names and shapes (``d_mlp = 2·n_keys·k``).

    Hidden unit ``2·(c·k + j) + s`` reads key ``c``, coordinate ``j``, sign ``+`` (s=0) or ``-``.
    """

    W_in: FloatArray  # [d_model, d_mlp]
    b_in: FloatArray  # [d_mlp]
    W_out: FloatArray  # [d_mlp, d_model]
    b_out: FloatArray  # [d_model]

    @property
    def d_mlp(self) -> int:
        return int(self.W_in.shape[1])


def selector_mlp(
    read_maps: npt.ArrayLike,
    gate_vectors: npt.ArrayLike,
    gate_threshold: float,
    output_map: npt.ArrayLike,
    gate_scale: float,
) -> SelectorMLP:
    """Build the gated selector.

    Parameters
    ----------
    read_maps : array_like, shape [n_keys, d_model, k]
        ``read_maps[c]`` is ``B_c`` lifted to the residual stream: ``x @ read_maps[c]`` is the
        code that key ``c`` selects.
    gate_vectors : array_like, shape [n_keys, d_model]
        ``⟨gate_vectors[c], x⟩`` counts the conditions of key ``c`` that ``x`` meets.
    gate_threshold : float
        ``m``, the number of conditions; the gate is open when all are met.
    output_map : array_like, shape [k, d_model]
        Row ``j`` is the residual direction that receives coordinate ``j`` of the selection.
    gate_scale : float
        ``λ > 0``, an upper bound on ``|(x @ read_maps[c])_j|`` for every prompt and every set of
        facts.

    Returns
    -------
    SelectorMLP

    Examples
    --------
    Two keys reading the two coordinates of a 2-d "subject" space, gated by a 2-d one-hot relation:

    >>> read = np.zeros((2, 4, 1)); read[0, 0, 0] = read[1, 1, 0] = 1
    >>> gates = np.zeros((2, 4)); gates[0, 2] = gates[1, 3] = 1
    >>> out = np.zeros((1, 4)); out[0, 0] = 1   # write into coordinate 0
    >>> sel = selector_mlp(read, gates, 1.0, out, gate_scale=10.0)
    >>> x = np.array([3.0, -5.0, 0.0, 1.0])     # subject (3, -5), relation 1
    >>> (np.maximum(x @ sel.W_in + sel.b_in, 0) @ sel.W_out).tolist()
    [-5.0, 0.0, 0.0, 0.0]
    """
    reads = np.asarray(read_maps, dtype=np.float64)
    gates = np.asarray(gate_vectors, dtype=np.float64)
    outputs = np.asarray(output_map, dtype=np.float64)
    n_keys, d_model, code_length = reads.shape
    if gates.shape != (n_keys, d_model) or outputs.shape != (code_length, d_model):
        raise ValueError(
            f"shapes disagree: read_maps {reads.shape}, gate_vectors {gates.shape}, "
            f"output_map {outputs.shape}"
        )
    if not gate_scale > 0:
        raise ValueError(f"gate_scale must be positive, got {gate_scale}")

    signs = np.array([1.0, -1.0])
    # W_in[:, c, j, s] = s·B_c[:, j] + λ·g_c
    W_in = (
        reads.transpose(1, 0, 2)[:, :, :, None] * signs + gate_scale * gates.T[:, :, None, None]
    ).reshape(d_model, -1)
    b_in = np.full(W_in.shape[1], -gate_scale * gate_threshold)
    # W_out[c, j, s, :] = s·output_map[j]
    W_out = np.broadcast_to(
        outputs[None, :, None, :] * signs[None, None, :, None], (n_keys, code_length, 2, d_model)
    ).reshape(-1, d_model)
    return SelectorMLP(W_in=W_in, b_in=b_in, W_out=np.array(W_out), b_out=np.zeros(d_model))


def gated_difference(z: npt.ArrayLike, gate: npt.ArrayLike, gate_scale: float) -> FloatArray:
    """``relu(z + λG) - relu(-z + λG)``: one pair of selector units, for gate values ``G``.

    Parameters
    ----------
    z : array_like
        The code coordinates read.
    gate : array_like
        G, the gate values.
    gate_scale : float
        λ.

    Examples
    --------
    >>> gated_difference([2.5, 2.5, -4.0], [0, -1, -2], gate_scale=4.0).tolist()
    [2.5, 0.0, 0.0]
    """
    values = np.asarray(z, dtype=np.float64)
    shift = gate_scale * np.asarray(gate, dtype=np.float64)
    difference: FloatArray = np.maximum(values + shift, 0) - np.maximum(-values + shift, 0)
    return difference
