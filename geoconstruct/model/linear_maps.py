"""The model's linear maps, each stored so that the forward pass skips the weight's zeros.

A construction's weights are mostly zero by design: the copy head's ``W_V`` and ``W_O`` are
diagonal, each selector unit writes one output coordinate, and ``W_U`` reads only the output
subspace. :class:`LinearMap` computes ``x @ weight + bias`` from the rows and columns where the
weight is nonzero, as a dense block (one BLAS product) or, when even that block is mostly zero,
as a compressed sparse row matrix. The terms it skips are exact zeros, so the result is the dense
product's up to the order in which the remaining terms are summed (which BLAS does not fix
either).

:func:`linear_maps` builds every map of a model once; :func:`~geoconstruct.model.transformer.
residual_stream` takes them so that a pass over many chunks of prompts builds them once.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from scipy import sparse

if TYPE_CHECKING:  # the config type only; transformer imports this module at run time
    from geoconstruct.model.transformer import TransformerConfig

__all__ = ["SPARSE_DENSITY", "LinearMap", "linear_maps"]

FloatArray = npt.NDArray[np.floating[Any]]
Index = slice | npt.NDArray[np.intp]

SPARSE_DENSITY = 0.05
"""A nonzero block this sparse or sparser is stored as a CSR matrix rather than a dense one."""

SUPPORT_CHUNK_BYTES = 1 << 26
"""Bytes of a weight scanned at a time for its nonzero rows and columns."""


@dataclass(frozen=True, eq=False)
class LinearMap:
    """``x @ weight + bias`` over the last axis, computed from the weight's nonzero block.

    Attributes
    ----------
    rows, cols : slice or ndarray of int
        The input coordinates the weight reads and the output coordinates it writes (a slice
        when they are contiguous, so that the block is a view of the weight).
    block : ndarray or scipy.sparse.csr_array, shape [len(rows), len(cols)]
        ``weight[rows][:, cols]``.
    bias : ndarray, shape [d_out]

    Examples
    --------
    >>> weight = np.zeros((4, 3)); weight[1, 2] = 2.0; weight[2, 0] = -1.0
    >>> linear = LinearMap.of(weight, np.array([0.5, 0.0, 0.0]))
    >>> linear.rows, linear.cols
    (slice(1, 3, None), array([0, 2]))
    >>> x = np.arange(8.0).reshape(2, 4)
    >>> bool(np.array_equal(linear(x), x @ weight + [0.5, 0.0, 0.0]))
    True
    """

    rows: Index
    cols: Index
    block: FloatArray | sparse.csr_array
    bias: FloatArray

    @classmethod
    def of(cls, weight: FloatArray, bias: FloatArray) -> LinearMap:
        """The map of a dense ``weight`` [d_in, d_out] and ``bias`` [d_out]."""
        row_any, col_any = _support(weight)
        rows, cols = _index(row_any), _index(col_any)
        block = weight[rows, :][:, cols]
        if (
            block.size
            and block.dtype in (np.float32, np.float64)
            and np.count_nonzero(block) <= SPARSE_DENSITY * block.size
        ):
            block = sparse.csr_array(block)
        return cls(rows, cols, block, bias)

    def __call__(self, x: FloatArray, out: FloatArray | None = None) -> FloatArray:
        """``x @ weight + bias`` for ``x`` [..., d_in]; written into ``out`` [n, d_out] if given."""
        flat = x.reshape(-1, x.shape[-1])
        if out is None:
            out = np.empty((flat.shape[0], self.bias.shape[0]), np.result_type(flat, self.bias))
        if not (self.block.shape[0] and self.block.shape[1]):
            out[...] = self.bias
        elif isinstance(self.block, sparse.csr_array):
            out[...] = self.bias
            out[:, self.cols] += (self.block.T @ flat[:, self.rows].T).T
        elif isinstance(self.cols, slice):  # the product straight into its columns
            target = out[:, self.cols]
            np.matmul(flat[:, self.rows], self.block, out=target)
            target += self.bias[self.cols]
            out[:, : self.cols.start] = self.bias[: self.cols.start]
            out[:, self.cols.stop :] = self.bias[self.cols.stop :]
        else:
            out[...] = self.bias
            out[:, self.cols] += flat[:, self.rows] @ self.block
        return out.reshape(*x.shape[:-1], self.bias.shape[0])

    @property
    def tileable(self) -> bool:
        """Whether :meth:`column_tiles` computes each tile alone: a dense block on a contiguous
        range of output columns (else it yields the whole product as one tile)."""
        return isinstance(self.block, np.ndarray) and isinstance(self.cols, slice)

    def column_tiles(
        self, x: FloatArray, width: int, buffer: FloatArray
    ) -> Iterator[tuple[int, FloatArray]]:
        """``x @ weight + bias`` for ``x`` [n, d_in], ``width`` output columns at a time.

        Yields ``(first column, tile)`` with ``tile`` [n, <= width] a view of ``buffer``
        [>= n, >= width], overwritten by the next tile. A tile outside the weight's nonzero
        columns is the bias alone, the same for every row: it is yielded as one row, [1, width],
        for the caller to broadcast. A map that is not :attr:`tileable` yields the whole product
        as one tile (``buffer`` must then hold ``d_out`` columns).

        Parameters
        ----------
        x : ndarray, shape [n, d_in]
            The inputs.
        width : int
            Columns a tile.
        buffer : ndarray or None
            Where each tile is written (reused); None allocates.

        Examples
        --------
        >>> weight = np.zeros((2, 5)); weight[:, 1:4] = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
        >>> linear = LinearMap.of(weight, np.arange(5.0))
        >>> x = np.array([[1.0, 1.0]])
        >>> x = np.array([[1.0, 1.0], [0.0, 1.0]])
        >>> [(first, tile.tolist()) for first, tile in linear.column_tiles(x, 2, np.empty((2, 2)))]
        [(0, [[0.0, 6.0], [0.0, 5.0]]), (2, [[9.0, 12.0], [7.0, 9.0]]), (4, [[4.0]])]
        """
        d_out, n, block, cols = self.bias.shape[0], x.shape[0], self.block, self.cols
        if not (isinstance(block, np.ndarray) and isinstance(cols, slice)):  # not tileable
            yield 0, self(x, out=buffer[:n, :d_out])
            return
        inputs = x[:, self.rows]
        for start in range(0, d_out, width):
            stop = min(start + width, d_out)
            out = buffer[:n, : stop - start]
            low, high = max(start, cols.start), min(stop, cols.stop)
            if not (low < high and block.shape[0]):  # the bias alone: one row
                out = buffer[:1, : stop - start]
                out[...] = self.bias[start:stop]
                yield start, out
                continue
            target = out[:, low - start : high - start]
            np.matmul(inputs, block[:, low - cols.start : high - cols.start], out=target)
            target += self.bias[low:high]
            out[:, : low - start] = self.bias[start:low]
            out[:, high - start :] = self.bias[high:stop]
            yield start, out


def linear_maps(
    weights: Mapping[str, FloatArray], config: TransformerConfig
) -> dict[str, LinearMap]:
    """Every linear map of the model, keyed by its weight's TransformerLens name.

    The attention weights [head, d_model, d_head] become one map over all heads:
    ``W_Q``, ``W_K``, ``W_V`` [d_model, head·d_head] and ``W_O`` [head·d_head, d_model].

    Parameters
    ----------
    weights : mapping of str to ndarray
        Weights in TransformerLens names and shapes.
    config : TransformerConfig
        The model's hyper-parameters.
    """
    d_model, heads = config.d_model, config.n_heads * config.d_head
    maps = {}
    for layer in range(config.n_layers):
        block = f"blocks.{layer}"
        for name in "QKV":
            W_x = weights[f"{block}.attn.W_{name}"].transpose(1, 0, 2).reshape(d_model, heads)
            b_x = weights[f"{block}.attn.b_{name}"].reshape(heads)
            maps[f"{block}.attn.W_{name}"] = LinearMap.of(W_x, b_x)
        W_O = weights[f"{block}.attn.W_O"].reshape(heads, d_model)
        maps[f"{block}.attn.W_O"] = LinearMap.of(W_O, weights[f"{block}.attn.b_O"])
        for name, bias in (("W_in", "b_in"), ("W_out", "b_out")):
            maps[f"{block}.mlp.{name}"] = LinearMap.of(
                weights[f"{block}.mlp.{name}"], weights[f"{block}.mlp.{bias}"]
            )
    maps["unembed.W_U"] = LinearMap.of(weights["unembed.W_U"], weights["unembed.b_U"])
    return maps


def _support(weight: FloatArray) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Which rows and which columns of ``weight`` hold a nonzero (scanned a chunk at a time)."""
    row_any = np.zeros(weight.shape[0], bool)
    col_any = np.zeros(weight.shape[1], bool)
    step = max(1, SUPPORT_CHUNK_BYTES // max(1, weight.shape[1] * weight.itemsize))
    for start in range(0, weight.shape[0], step):
        nonzero = weight[start : start + step] != 0
        row_any[start : start + step] = nonzero.any(axis=1)
        col_any |= nonzero.any(axis=0)
    return row_any, col_any


def _index(mask: npt.NDArray[np.bool_]) -> Index:
    """The positions where ``mask`` holds, as a slice when they are contiguous."""
    positions = np.flatnonzero(mask)
    if positions.size == 0:
        return slice(0, 0)
    if positions[-1] - positions[0] + 1 == positions.size:
        return slice(int(positions[0]), int(positions[-1]) + 1)
    return positions
