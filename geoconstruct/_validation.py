"""Argument checks shared by every public entry point.

Each check raises before anything is built, with a message that names the argument, the rule it
broke and the value it got, so that bad input changes nothing.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

__all__ = [
    "DEFAULT_MEMORY_BUDGET",
    "MemoryBudgetError",
    "require_choice",
    "require_ids",
    "require_int",
    "require_probability",
    "require_within_budget",
]

DEFAULT_MEMORY_BUDGET = 8 * 2**30
"""Bytes a single request (a construction, a recall) may allocate unless told otherwise: 8 GiB."""


class InputTypeError(TypeError):
    """An argument of the wrong type: the caller's mistake, reported as such (the command line
    exits 2). A plain ``TypeError`` from inside the library is a bug and is not one of these."""


class NoResultError(RuntimeError):
    """A well-formed request with no answer: no code length recalls every fact on every seed,
    or ``method="certified"`` was told not to fall back and the certificate proved nothing."""


class MemoryBudgetError(MemoryError):
    """A request whose estimated peak memory exceeds its budget; raised before allocating.

    ``needed`` and ``budget`` are the bytes (None when raised without them).
    """

    def __init__(self, message: str, needed: int | None = None, budget: int | None = None):
        super().__init__(message)
        self.needed, self.budget = needed, budget


def require_within_budget(task: str, needed: int, budget: object) -> None:
    """Raise :class:`MemoryBudgetError` if ``needed`` bytes exceed ``budget``.

    Examples
    --------
    >>> require_within_budget("recall", 3 * 2**30, 2**30)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    geoconstruct._validation.MemoryBudgetError: recall would need about 3,221,225,472 bytes ...
    """
    limit = require_int("memory_budget", budget, minimum=1)
    if needed > limit:
        raise MemoryBudgetError(
            f"{task} would need about {needed:,} bytes ({needed / 2**30:.2f} GiB), over the "
            f"memory budget of {limit:,} bytes ({limit / 2**30:.2f} GiB); pass a larger "
            "memory_budget or make the request smaller",
            needed=needed,
            budget=limit,
        )


def require_int(name: str, value: object, *, minimum: int) -> int:
    """Return ``value`` as an ``int`` if it is an integer ``>= minimum``.

    Booleans, floats (even ``3.0``), strings and other types are refused with ``TypeError``;
    an integer below ``minimum`` with ``ValueError``.

    Examples
    --------
    >>> require_int("n_subjects", 5, minimum=1)
    5
    >>> require_int("n_subjects", 0, minimum=1)
    Traceback (most recent call last):
    ...
    ValueError: n_subjects must be an integer >= 1, got 0
    >>> require_int("d", 2.0, minimum=1)
    Traceback (most recent call last):
    ...
    geoconstruct._validation.InputTypeError: d must be an integer, got 2.0 (float)
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InputTypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    as_int = int(value)
    if as_int < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {as_int}")
    return as_int


def require_choice(name: str, value: object, choices: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``choices``; otherwise raise ``ValueError`` listing them.

    Examples
    --------
    >>> require_choice("layout", "block", ("block", "superposed"))
    'block'
    >>> require_choice("layout", "diagonal", ("block", "superposed"))
    Traceback (most recent call last):
    ...
    ValueError: layout must be one of 'block', 'superposed'; got 'diagonal'
    """
    options = tuple(choices)
    if not isinstance(value, str) or value not in options:
        listed = ", ".join(repr(option) for option in options)
        raise ValueError(f"{name} must be one of {listed}; got {value!r}")
    return value


def require_dtype(value: object, choices: Iterable[str]) -> str:
    """Return the name of a dtype given as a string (``"float32"``) or as numpy spells it
    (``np.float32``, ``np.dtype("float32")``), if it is one of ``choices``.

    Examples
    --------
    >>> import numpy as np
    >>> require_dtype(np.float32, ("float64", "float32")), require_dtype("float64", ("float64",))
    ('float32', 'float64')
    >>> require_dtype(np.int8, ("float64", "float32"))
    Traceback (most recent call last):
    ...
    ValueError: dtype must be one of 'float64', 'float32'; got 'int8'
    """
    name = value
    if not isinstance(value, str):
        try:
            name = np.dtype(value).name  # type: ignore[call-overload]
        except TypeError:
            name = value
    return require_choice("dtype", name, choices)


def require_probability(name: str, value: object, *, open_interval: bool = True) -> float:
    """Return ``value`` as a float in ``(0, 1)`` (or ``[0, 1]`` with ``open_interval=False``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputTypeError(
            f"{name} must be a real number, got {value!r} ({type(value).__name__})"
        )
    as_float = float(value)
    inside = 0.0 < as_float < 1.0 if open_interval else 0.0 <= as_float <= 1.0
    if not inside:
        interval = "(0, 1)" if open_interval else "[0, 1]"
        raise ValueError(f"{name} must lie in {interval}, got {as_float}")
    return as_float


def require_ids(name: str, values: npt.ArrayLike, upper: int) -> npt.NDArray[np.int64]:
    """Return ``values`` as int64 ids if they are integers in ``[0, upper)``; else raise.

    Examples
    --------
    >>> require_ids("subjects", [0, 4], 5).tolist()
    [0, 4]
    >>> require_ids("subjects", [0, 5], 5)
    Traceback (most recent call last):
    ...
    ValueError: subjects must lie in [0, 5), got values 0..5
    """
    ids = np.asarray(values)
    if ids.size and not np.issubdtype(ids.dtype, np.integer):
        raise InputTypeError(f"{name} must be integer ids, got dtype {ids.dtype}")
    ids = ids.astype(np.int64)
    if ids.size and (ids.min() < 0 or ids.max() >= upper):
        raise ValueError(f"{name} must lie in [0, {upper}), got values {ids.min()}..{ids.max()}")
    return ids
