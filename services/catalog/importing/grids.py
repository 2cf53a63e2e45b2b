"""Grids: the table as CSV (UTF-8, optional BOM) or as the first sheet of an XLSX workbook,
with the notice's Chinese or the English column names (R-CAT-1)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from services.catalog.importing.normalising import FIELDS, SEQ_HEADERS, header_key, map_header
from services.catalog.importing.rows import MAX_ROWS, Assembler, TableRejected, WinningRow
from services.runtime import texts
from services.runtime.rows import RowError


def _is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())



_HEADER_SEARCH_ROWS = 20


def _parse_grid(rows: Iterable[Sequence[object]], max_rows: int) -> list[WinningRow]:
    """Rows of cells; the header is the first row with a 序号/seq cell (within 20 rows)."""
    iterator = iter(rows)
    columns: dict[str, int] | None = None
    width = 0
    for seen, cells in enumerate(iterator, start=1):
        if any(header_key(cell) in SEQ_HEADERS for cell in cells):
            columns, problems = map_header(cells)
            if problems:
                raise TableRejected([RowError(0, None, p) for p in problems])
            width = len(cells)
            break
        if seen >= _HEADER_SEARCH_ROWS:
            break
    if columns is None:
        raise TableRejected(
            [
                RowError(
                    0,
                    None,
                    texts.text("no header row (a row with a 序号 or seq column) in the first "
                               "{rows} rows", rows=_HEADER_SEARCH_ROWS),
                )
            ]
        )
    indexes = [columns[name] for name in FIELDS]
    assembler = Assembler(max_rows)
    for cells in iterator:
        if all(_is_blank(cell) for cell in cells):
            continue
        if len(cells) > width and not all(_is_blank(c) for c in cells[width:]):
            assembler.structural_error(
                cells[indexes[0]] if indexes[0] < len(cells) else None,
                texts.text("the row has {cells} cells but the header has {columns} columns",
                           cells=len(cells), columns=width),
            )
            continue
        values = [cells[i] if i < len(cells) else None for i in indexes]
        if all(type(value) is str for value in values):
            assembler.add_text(values)  # type: ignore[arg-type]  # all str, checked
        else:
            assembler.add(values)
    return assembler.finish()


def parse_csv(data: bytes | str, *, max_rows: int = MAX_ROWS) -> list[WinningRow]:
    """A CSV table, UTF-8 (BOM optional), Chinese or English header (see :data:`LABELS`)."""
    if isinstance(data, str):
        text = data.removeprefix("\ufeff")
    else:
        try:
            text = bytes(data).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise TableRejected(
                [RowError(0, None, texts.text("the file is not UTF-8 text (bad byte at offset "
                                              "{offset})", offset=exc.start))]
            ) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        return _parse_grid(reader, max_rows)
    except csv.Error as exc:
        raise TableRejected(
            [RowError(0, None, texts.text("the CSV cannot be read near line {line}: {error}",
                                          line=reader.line_num, error=str(exc)))]
        ) from None


def parse_xlsx(data: bytes, *, max_rows: int = MAX_ROWS) -> list[WinningRow]:
    """The first sheet of an XLSX workbook, same header rules as :func:`parse_csv`.

    Numeric cells arrive from openpyxl as floats; they become Decimals through ``repr`` (the
    shortest exact decimal of the float) and must be whole fen, so ``0.1 + 0.2`` is refused.
    """
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a bad file
        raise TableRejected(
            [RowError(0, None, texts.text("the file is not a readable XLSX workbook ({error})",
                                          error=type(exc).__name__))]
        ) from None
    try:
        if not workbook.worksheets:
            raise TableRejected([RowError(0, None, texts.text("the workbook has no sheet"))])
        sheet = workbook.worksheets[0]
        return _parse_grid(sheet.iter_rows(values_only=True), max_rows)
    finally:
        workbook.close()
