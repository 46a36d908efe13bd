"""The one table renderer: rows (frozen dataclasses) as Markdown, CSV, JSON or LaTeX.

A row type lists its columns in a ``COLUMNS`` class attribute: ``(title, name, format)`` triples,
where ``name`` is a field or a property. JSON holds every field; the other formats hold the
columns, with a last ``error`` column when some row has one, and "—" where a value is None.
:func:`markdown_header` and :func:`markdown_row` print a Markdown table one row at a time (for
long runs that show each row as it is measured).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from geoconstruct._validation import require_choice

__all__ = ["TABLE_FORMATS", "Columns", "markdown_header", "markdown_row", "render_table"]

TABLE_FORMATS = ("md", "csv", "json", "latex")

Columns = tuple[tuple[str, str, str], ...]


def render_table(rows: Sequence[Any], fmt: str = "md") -> str:
    """The rows as a Markdown, CSV, JSON or LaTeX table (errors shown in a last column).

    Parameters
    ----------
    rows : sequence of rows
        Rows of one class with ``COLUMNS``.
    fmt : str
        ``"md"`` (Markdown), ``"csv"``, ``"json"`` or ``"latex"``.

    Examples
    --------
    >>> from geoconstruct.analysis.measurement.capacity import CapacityRow
    >>> row = CapacityRow(12, 4, "block", "grid", "int8", 8, (0,), 32.0, capacity=65536)
    >>> print(render_table([row], "csv").strip())
    d,R,layout,codebook,precision,seeds,capacity N,log2 capacity,per-subject bound log2 N,seconds
    12,4,block,grid,int8,1,"65,536",16.00,32.0,0.0
    """
    fmt = require_choice("format", fmt, TABLE_FORMATS)
    if fmt == "json":
        return json.dumps([asdict(row) for row in rows], indent=2) + "\n"
    columns: Columns = type(rows[0]).COLUMNS if rows else ()
    with_errors = any(getattr(row, "error", None) for row in rows)
    titles = [title for title, _, _ in columns] + (["error"] if with_errors else [])
    body = [
        _cells(row, columns) + ([getattr(row, "error", None) or ""] if with_errors else [])
        for row in rows
    ]
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(titles)
        writer.writerows(body)
        return buffer.getvalue()
    if fmt == "md":
        lines = _markdown_header(titles) + ["| " + " | ".join(cells) + " |" for cells in body]
        return "\n".join(lines) + "\n"
    escape = str.maketrans({"_": r"\_", "%": r"\%", "&": r"\&", "#": r"\#", "—": "--"})
    lines = [
        r"\begin{tabular}{" + "r" * len(titles) + "}",
        r"\hline",
        " & ".join(title.translate(escape) for title in titles) + r" \\",
        r"\hline",
    ]
    lines += [" & ".join(cell.translate(escape) for cell in cells) + r" \\" for cells in body]
    lines += [r"\hline", r"\end{tabular}"]
    return "\n".join(lines) + "\n"


def markdown_header(row_type: type) -> list[str]:
    """The two header lines of a Markdown table of ``row_type`` rows (no error column).

    Parameters
    ----------
    row_type : type
        A row class with ``COLUMNS`` (title, attribute, format) entries.
    """
    columns: Columns = row_type.COLUMNS  # type: ignore[attr-defined]
    return _markdown_header([title for title, _, _ in columns])


def markdown_row(row: Any) -> str:
    """One row as a Markdown table line, under :func:`markdown_header`.

    Parameters
    ----------
    row : row
        An instance of a row class with ``COLUMNS``.
    """
    return "| " + " | ".join(_cells(row, type(row).COLUMNS)) + " |"


def _markdown_header(titles: Sequence[str]) -> list[str]:
    return ["| " + " | ".join(titles) + " |", "|---" * len(titles) + "|"]


def _cells(row: Any, columns: Columns) -> list[str]:
    values = [getattr(row, name) for _, name, _ in columns]
    return [
        "—" if value is None else form.format(value)
        for value, (_, _, form) in zip(values, columns, strict=True)
    ]
