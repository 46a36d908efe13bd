"""The model's linear maps, each stored so that the forward pass skips the weight's zeros.

A construction's weights are mostly zero by design: the copy head's ``W_V`` and ``W_O`` are
diagonal, each selector unit writes one output coordinate, and ``W_U`` reads only the output
subspace. :class:`LinearMap` computes ``x @ weight + bias`` from the rows and columns where the
weight is nonzero, as a dense block (one BLAS product) or, when even that block is mostly zero,
as a compressed sparse row matrix. The terms it skips are exact zeros, so the result is the dense
product's up to the order in which the remaining terms are summed (which BLAS does not fix
either).

:func:`~geoconstruct.model.transformer.linear_maps` builds every map of a model once;
:func:`~geoconstruct.model.transformer.residual_stream` takes them so that a pass over many
chunks of prompts builds them once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from array_api_compat import array_namespace
from scipy import sparse

__all__ = ["SPARSE_DENSITY", "LinearMap"]

FloatArray = npt.NDArray[np.floating[Any]]
Index = slice | npt.NDArray[np.intp]

SPARSE_DENSITY = 0.05
"""A nonzero block this sparse or sparser is stored as a CSR matrix rather than a dense one."""

SUPPORT_CHUNK_BYTES = 1 << 26
"""Bytes of a weight scanned at a time for its nonzero rows and columns."""


@dataclass(frozen=True, eq=False)
class LinearMap:
    """``x @ weight + bias`` over the last axis, computed from the weight's nonzero block.

    The arrays are numpy's or another array-API library's (torch, cupy): :meth:`on` moves a map
    to a torch device, with the same rows, columns and block.

    Attributes
    ----------
    rows, cols : slice or integer array
        The input coordinates the weight reads and the output coordinates it writes (a slice
        when they are contiguous, so that the block is a view of the weight).
    block : array or scipy.sparse.csr_array, shape [len(rows), len(cols)]
        ``weight[rows][:, cols]`` (CSR for numpy only).
    bias : array, shape [d_out], or None
        None for a table read by row (the embeddings' ``block`` is ``W_E`` or ``W_pos``).

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
    block: Any
    bias: Any

    @classmethod
    def of(cls, weight: Any, bias: Any) -> LinearMap:
        """The map of ``weight`` [d_in, d_out] and ``bias`` [d_out]: its nonzero block for
        numpy weights, the whole weight (kept as it is, gradients and all) for others."""
        if not isinstance(weight, np.ndarray):
            return cls(slice(0, weight.shape[0]), slice(0, weight.shape[1]), weight, bias)
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

    def on(self, tensor: Callable[[Any], Any]) -> LinearMap:
        """The same map with its arrays converted by ``tensor`` (to torch tensors on a device:
        :func:`~geoconstruct.model.backends.maps_on`); a CSR block becomes dense.

        Parameters
        ----------
        tensor : callable
            Takes a numpy array, returns the array where the pass runs.
        """
        block = self.block.toarray() if isinstance(self.block, sparse.csr_array) else self.block
        rows, cols = (
            index if isinstance(index, slice) else tensor(index) for index in (self.rows, self.cols)
        )
        bias = None if self.bias is None else tensor(self.bias)
        return LinearMap(rows, cols, tensor(block), bias)

    def __call__(self, x: Any) -> Any:
        """``x @ weight + bias`` for ``x`` [..., d_in]: [..., d_out]."""
        xp = array_namespace(x, self.bias)
        flat = xp.reshape(x, (-1, x.shape[-1]))
        d_out, block = self.bias.shape[0], self.block
        whole = block.shape[0] == flat.shape[1] and block.shape[1] == d_out
        if whole and not isinstance(block, sparse.csr_array):
            out = flat @ block + self.bias
        else:
            out = xp.asarray(xp.broadcast_to(self.bias, (flat.shape[0], d_out)), copy=True)
            if block.shape[0] and block.shape[1]:
                inputs = flat[:, self.rows]
                if isinstance(block, sparse.csr_array):
                    product = (block.T @ inputs.T).T
                else:
                    product = inputs @ block
                out[:, self.cols] += product
        return xp.reshape(out, (*x.shape[:-1], d_out))

    @property
    def tileable(self) -> bool:
        """Whether :meth:`column_tiles` computes each tile alone: a dense block on a contiguous
        range of output columns (else it yields the whole product as one tile)."""
        return not isinstance(self.block, sparse.csr_array) and isinstance(self.cols, slice)

    def column_tiles(self, x: Any, width: int, buffer: Any) -> Iterator[tuple[int, Any]]:
        """``x @ weight + bias`` for ``x`` [n, d_in], ``width`` output columns at a time.

        Yields ``(first column, tile)`` with ``tile`` [n, <= width] a view of ``buffer``
        [>= n, >= width], overwritten by the next tile. A tile outside the weight's nonzero
        columns is the bias alone, the same for every row: it is yielded as one row, [1, width],
        for the caller to broadcast. A map that is not :attr:`tileable` yields the whole product
        as one tile (``buffer`` must then hold ``d_out`` columns).

        Parameters
        ----------
        x : array, shape [n, d_in]
            The inputs.
        width : int
            Columns a tile.
        buffer : array
            Where each tile is written (reused).

        Examples
        --------
        >>> weight = np.zeros((2, 5)); weight[:, 1:4] = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
        >>> linear = LinearMap.of(weight, np.arange(5.0))
        >>> x = np.array([[1.0, 1.0], [0.0, 1.0]])
        >>> [(first, tile.tolist()) for first, tile in linear.column_tiles(x, 2, np.empty((2, 2)))]
        [(0, [[0.0, 6.0], [0.0, 5.0]]), (2, [[9.0, 12.0], [7.0, 9.0]]), (4, [[4.0]])]
        """
        d_out, n, block, cols = self.bias.shape[0], x.shape[0], self.block, self.cols
        if not self.tileable or not isinstance(cols, slice):
            yield 0, self(x)
            return
        inputs = x[:, self.rows]
        numpy = isinstance(x, np.ndarray)
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
            columns = block[:, low - cols.start : high - cols.start]
            if numpy:  # the product straight into the buffer
                np.matmul(inputs, columns, out=target)
            else:
                target[...] = inputs @ columns
            target += self.bias[low:high]
            out[:, : low - start] = self.bias[start:low]
            out[:, high - start :] = self.bias[high:stop]
            yield start, out


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
