"""Numeric formats: quantise a construction, re-check its recall, and measure storage efficiency.

A numeric format stores each parameter in ``p`` bits (``docs/design.md`` §6):

``float64``, ``float32``, ``float16``, ``bfloat16``
    Floating point, rounded to nearest (ties to even).
``int2`` … ``int16`` (``intP``)
    Signed ``P``-bit integers times one scale per array: ``scale·q`` with
    ``q ∈ [-2^(P-1), 2^(P-1) - 1]``. Integer values that already fit are kept with scale 1
    (lossless); otherwise ``scale = max|v| / (2^(P-1) - 1)``.

:func:`quantize_construction` rounds the **fact-dependent** parameters (the subject embeddings on
the subject subspace, ``N·d_s`` numbers) to a format and leaves the generic weights (codebook,
selector, relation embeddings, unembedding), which depend on no fact, as they are. Recall is then
checked again on the quantised weights by the forward pass (or the certificate, which judges the
weights as they are). **Storage efficiency** is the information the facts carry divided by the
bits the fact-dependent parameters occupy, ``N·d_s·p``, against both lower bounds of
``docs/design.md`` §6: the per-subject information ``N·R·log2 N`` and the global ``R·log2 N!``.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from geoconstruct._validation import InputTypeError
from geoconstruct.analysis.theory.bounds import global_bits, per_subject_bits
from geoconstruct.constructions.construction import Construction

__all__ = [
    "FLOAT_FORMATS",
    "NumericFormat",
    "Quantized",
    "StorageEfficiency",
    "numeric_format",
    "quantize",
    "quantize_construction",
    "storage_efficiency",
]

FloatArray = npt.NDArray[np.float64]

FLOAT_FORMATS = {"float64": 64, "float32": 32, "float16": 16, "bfloat16": 16}
"""Floating-point formats and their bits."""


@dataclass(frozen=True)
class NumericFormat:
    """A way to store one parameter: ``name``, ``bits`` and whether it is an integer format.

    Examples
    --------
    >>> numeric_format("int8"), numeric_format("bfloat16").bits
    (NumericFormat(name='int8', bits=8, integer=True), 16)
    """

    name: str
    bits: int
    integer: bool

    @property
    def largest_integer(self) -> int:
        """``2^(P-1) - 1`` for ``intP``."""
        return (1 << (self.bits - 1)) - 1


def numeric_format(name: str | NumericFormat) -> NumericFormat:
    """Parse a format name: one of :data:`FLOAT_FORMATS` or ``intP`` with ``2 <= P <= 16``.

    Parameters
    ----------
    name : str or NumericFormat
        A format name, or a format (returned as it is).

    Raises
    ------
    ValueError
        On any other name, saying which names exist.
    """
    if isinstance(name, NumericFormat):
        return name
    if not isinstance(name, str):
        raise InputTypeError(f"format must be a string such as 'int8', got {name!r}")
    if name in FLOAT_FORMATS:
        return NumericFormat(name, FLOAT_FORMATS[name], integer=False)
    match = re.fullmatch(r"int(\d+)", name)
    if match and 2 <= int(match.group(1)) <= 16:
        return NumericFormat(name, int(match.group(1)), integer=True)
    raise ValueError(
        f"format must be one of {', '.join(FLOAT_FORMATS)} or intP with 2 <= P <= 16, got {name!r}"
    )


@dataclass(frozen=True, eq=False)
class Quantized:
    """Values after rounding to a format, as float64, and what the rounding cost.

    Attributes
    ----------
    values : ndarray of float64
        The represented values (``scale·q`` for integer formats).
    scale : float
        The integer formats' step (1.0 when the values were integers that fit); 0.0 for floats.
    max_error : float
        ``max |values - original|``.
    """

    values: FloatArray
    scale: float
    max_error: float


def quantize(values: npt.ArrayLike, fmt: str | NumericFormat) -> Quantized:
    """Round ``values`` to the nearest numbers the format represents.

    Parameters
    ----------
    values : array_like of float
        The numbers to round.
    fmt : NumericFormat
        The numeric format (:func:`numeric_format` of a name).

    Examples
    --------
    >>> quantize([3.0, -128.0, 127.0], "int8").scale      # integers that fit: lossless
    1.0
    >>> q = quantize([0.5, -0.25, 0.1], "int4")           # scale = 0.5 / 7
    >>> q.values.round(4).tolist(), round(q.max_error, 4)
    ([0.5, -0.2857, 0.0714], 0.0357)
    >>> quantize([1 + 2**-8, 1 + 3 * 2**-9], "bfloat16").values.tolist()   # 8 mantissa bits
    [1.0, 1.0078125]
    """
    form = numeric_format(fmt)
    original = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(original)):
        raise ValueError("cannot quantise values that are not finite")
    scale = 0.0
    if form.integer:
        top = form.largest_integer
        fits = np.array_equal(original, np.rint(original)) and (
            original.size == 0 or (original.min() >= -top - 1 and original.max() <= top)
        )
        largest = float(np.abs(original).max(initial=0.0))
        tiny = float(np.finfo(np.float64).smallest_subnormal)  # largest / top may underflow
        scale = 1.0 if fits or largest == 0.0 else max(largest / top, tiny)
        represented = np.clip(np.rint(original / scale), -top - 1, top) * scale
    elif form.name == "bfloat16":
        represented = _round_to_bfloat16(original)
    else:
        with np.errstate(over="ignore"):
            represented = original.astype(form.name).astype(np.float64)
        if not np.all(np.isfinite(represented)):
            raise ValueError(f"values overflow {form.name}")
    max_error = float(np.abs(represented - original).max(initial=0.0))
    return Quantized(values=represented, scale=scale, max_error=max_error)


def _round_to_bfloat16(values: FloatArray) -> FloatArray:
    """Round to bfloat16 (the top 16 bits of float32), to nearest, ties to even."""
    single = values.astype(np.float32)
    bits = single.view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
    return rounded.astype(np.uint32).view(np.float32).astype(np.float64)


def quantize_construction(construction: Construction, fmt: str | NumericFormat) -> Construction:
    """The construction with its fact-dependent parameters rounded to ``fmt``.

    Only the subject embeddings on the subject subspace change; every other array is the same
    object. The result's ``recall()`` judges the quantised weights, and its guarantee is restated
    (:meth:`~geoconstruct.Construction.with_subject_embeddings`): it stands where the format
    stores the embeddings exactly, and is ``"none"`` where rounding changed them.

    Parameters
    ----------
    fmt : NumericFormat
        The numeric format (:func:`numeric_format` of a name).

    Examples
    --------
    >>> from geoconstruct.constructions.single_hop import construct_single_hop
    >>> from geoconstruct.constructions.single_hop_sizes import required_dimension
    >>> grid = {"layout": "block", "codebook": "grid"}
    >>> c = construct_single_hop(4096, 2, required_dimension(4096, 2, **grid), seed=0, **grid)
    >>> q = quantize_construction(c, "int8")    # 8-bit grid codes: lossless
    >>> q.recall(method="certified").n_correct, storage_efficiency(q, "int8").per_subject
    (8192, 0.75)
    """
    form = numeric_format(fmt)
    quantized = quantize(construction.subject_embeddings, form)
    return construction.with_subject_embeddings(quantized.values, change=f"rounding to {form.name}")


@dataclass(frozen=True)
class StorageEfficiency:
    """Information the facts carry ÷ bits the fact-dependent parameters occupy.

    Attributes
    ----------
    format : str
    bits_per_parameter : int
    fact_dependent_parameters : int
        ``N·d_s``.
    fact_dependent_bits : int
        ``N·d_s·p``.
    per_subject_information : float
        ``N·R·log2 N`` bits: what a fact-independent read-out needs (per-subject bound).
    global_information : float
        ``R·log2 N!`` bits: what any model needs (global bound).
    """

    format: str
    bits_per_parameter: int
    fact_dependent_parameters: int
    fact_dependent_bits: int
    per_subject_information: float
    global_information: float

    @property
    def per_subject(self) -> float:
        """``N·R·log2 N / (N·d_s·p)``; 1.0 meets the per-subject bound exactly."""
        return self.per_subject_information / self.fact_dependent_bits

    @property
    def global_(self) -> float:
        """``R·log2 N! / (N·d_s·p)``, against the global bound."""
        return self.global_information / self.fact_dependent_bits

    def as_dict(self) -> dict[str, Any]:
        return dict(dataclasses.asdict(self), per_subject=self.per_subject, global_=self.global_)


def storage_efficiency(construction: Construction, fmt: str | NumericFormat) -> StorageEfficiency:
    """Storage efficiency of ``construction`` with its fact-dependent parameters in ``fmt``.

    Parameters
    ----------
    fmt : NumericFormat
        The numeric format (:func:`numeric_format` of a name).

    Examples
    --------
    >>> from geoconstruct.codes.codebooks import GridCodes
    >>> from geoconstruct.constructions.single_hop import construct_single_hop
    >>> from geoconstruct.constructions.single_hop_sizes import required_dimension
    >>> grid = GridCodes(bits=4)
    >>> d = required_dimension(2**12, 3, layout="block", codebook=grid)
    >>> c = construct_single_hop(2**12, 3, d, layout="block", codebook=grid)
    >>> storage_efficiency(c, "int4").per_subject   # log2 N = 12 = 3 digits of 4 bits
    1.0
    """
    form = numeric_format(fmt)
    n_subjects, n_relations = construction.facts.n_subjects, construction.facts.n_relations
    parameters = construction.parameter_count.fact_dependent
    return StorageEfficiency(
        format=form.name,
        bits_per_parameter=form.bits,
        fact_dependent_parameters=parameters,
        fact_dependent_bits=parameters * form.bits,
        per_subject_information=n_subjects * per_subject_bits(n_subjects, n_relations),
        global_information=global_bits(n_subjects, n_relations),
    )
