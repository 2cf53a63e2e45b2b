"""Importing a program's winning products from its attachment table (R-CAT-1..4).

Pure domain code: the standard library, plus openpyxl for XLSX. No I/O, no framework.

Three sources give the same result, a list of :class:`WinningRow`:

* :func:`parse_notice_text` -- the notice's own text (or just its table), tab separated, with
  cells wrapped across lines by the publisher (:func:`read_notice_text` also gives the lines
  it skipped inside the table: page numbers, repeated headers, closing lines);
* :func:`parse_csv` -- UTF-8 CSV (optional BOM) with Chinese or English headers;
* :func:`parse_xlsx` -- the first sheet of an XLSX workbook, same headers.

All three are all-or-nothing (R-CAT-1): every row that cannot be read or breaks a rule is
reported in one :class:`TableRejected`, and rows are returned only when the whole table is good
and complete: the 序号 run 1, 2, ... N without a gap (a gap is a row left out).

Row numbers in errors (:attr:`RowError.row`): the row's own 序号 when it is readable, otherwise
the 1-based position of the row among the table's data rows (header and blank lines not
counted); ``0`` means the table as a whole (no header, too many rows, unreadable file).

Normalisation (R-CAT-1), applied to every text cell from every source:

* whitespace runs collapse to one space, and the cell is trimmed;
* a space is removed where wrapping put it inside Chinese text: between two CJK characters
  (ideographs, CJK punctuation, full-width forms such as ``（`` ``）``), or between a CJK
  character and a half-width bracket (``易生科技 (北京)`` -> ``易生科技(北京)``);
* spaces between Latin words, digits and Latin/CJK boundaries are kept
  (``Boston Scientific Corporation``, ``Medtronic (Shanghai)``);
* brackets keep the width they were published with (the shared CSV keeps both widths);
* the certificate cell loses all whitespace (``国械注准 20163132305`` -> ``国械注准20163132305``)
  and is NFKC-folded, so full-width digits become ASCII digits.

The package's modules: :mod:`.normalising` (columns, text and header cells), :mod:`.rows`
(row assembly and the rules), :mod:`.grids` (CSV, XLSX) and :mod:`.notice_text`.
"""

from __future__ import annotations

from contracts.identity import enterprise_key as enterprise_key  # importable as before
from services.catalog.importing.grids import parse_csv, parse_xlsx
from services.catalog.importing.normalising import FIELDS, LABELS, normalise_text
from services.catalog.importing.notice_text import (
    MAX_SKIPPED_SHOWN,
    NoticeTable,
    SkippedLine,
    parse_notice_text,
    read_notice_text,
)
from services.catalog.importing.rows import (
    CENT,
    CERTIFICATE_PATTERN,
    MAX_ROWS,
    TableRejected,
    WinningRow,
    validate,
)
from services.runtime.rows import RowError as RowError  # importable as before

__all__ = [
    "CENT",
    "CERTIFICATE_PATTERN",
    "FIELDS",
    "LABELS",
    "MAX_ROWS",
    "MAX_SKIPPED_SHOWN",
    "NoticeTable",
    "RowError",
    "SkippedLine",
    "TableRejected",
    "WinningRow",
    "enterprise_key",
    "normalise_text",
    "parse_csv",
    "parse_notice_text",
    "parse_xlsx",
    "read_notice_text",
    "validate",
]
