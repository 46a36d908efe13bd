"""Tables of rows (frozen dataclasses) as Markdown, CSV, JSON or LaTeX.

A row type lists its columns in a ``COLUMNS`` class attribute: ``(title, field, format)`` triples.
JSON holds every field; the other formats hold the columns, with a last ``error`` column when some
row has one, and "—" where a value is None.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from geoconstruct._validation import require_choice

__all__ = ["TABLE_FORMATS", "Columns", "render_table"]

TABLE_FORMATS = ("md", "csv", "json", "latex")

Columns = tuple[tuple[str, str, str], ...]


def render_table(rows: Sequence[Any], fmt: str = "md") -> str:
    """The rows as a Markdown, CSV, JSON or LaTeX table (errors shown in a last column).

    Examples
    --------
    >>> from geoconstruct.analysis.capacity import CapacityRow
    >>> row = CapacityRow(14, 4, "block", "grid", "int8", 8, 65536, 2**28, 0.1)
    >>> print(render_table([row], "csv").strip())
    d,R,codebook,precision,capacity N,per-subject bound N,seconds
    14,4,grid,int8,"65,536","268,435,456",0.10
    """
    fmt = require_choice("format", fmt, TABLE_FORMATS)
    records = [asdict(row) for row in rows]
    if fmt == "json":
        return json.dumps(records, indent=2) + "\n"
    columns: Columns = type(rows[0]).COLUMNS if rows else ()
    with_errors = any(record.get("error") for record in records)
    titles = [title for title, _, _ in columns] + (["error"] if with_errors else [])
    body = [
        ["—" if record[key] is None else form.format(record[key]) for _, key, form in columns]
        + ([record.get("error") or ""] if with_errors else [])
        for record in records
    ]
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(titles)
        writer.writerows(body)
        return buffer.getvalue()
    if fmt == "md":
        lines = ["| " + " | ".join(titles) + " |", "|---" * len(titles) + "|"]
        lines += ["| " + " | ".join(cells) + " |" for cells in body]
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
