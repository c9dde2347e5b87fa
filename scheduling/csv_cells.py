"""CSV cells a spreadsheet cannot run as formulas (CSV/formula injection).

A text cell starting with ``= + - @``, tab or carriage return is a formula to Excel, LibreOffice
and Google Sheets (``=HYPERLINK(...)`` as a skill name would become a link). Such text gets a
leading ``'`` (OWASP's advice), which spreadsheets show as text. Numbers are written as they
are: ``-3`` is a number, not a formula. Every CSV export writes through :func:`csv_writer`.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any, TextIO

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """The value to write: text that a spreadsheet would evaluate is prefixed with ``'``."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class SafeWriter:
    """``csv.writer`` whose every text cell goes through :func:`safe_cell`."""

    def __init__(self, out: TextIO, **options: Any) -> None:
        self._writer = csv.writer(out, **options)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([safe_cell(v) for v in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def csv_writer(out: TextIO, **options: Any) -> SafeWriter:
    return SafeWriter(out, **options)
