"""Reading agreement-volume files (R-AGR-1): CSV (UTF-8) or XLSX (first sheet).

Columns, by header (English or the Chinese names of the national platform's export, any order,
extra columns ignored): ``institution_id``, ``institution_type``, ``enterprise_id`` (optional:
the product's winning enterprise is implied), ``registration_no``, ``units``. Reading never
half-reads a file: a structural problem (no header, a missing column, too many rows) is a
:class:`FileRejected`; the rows are then judged by ``domain.validate_agreement_rows``.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TypeVar

from services.orders.domain import AgreementRow, HistoryRow
from services.runtime import texts
from services.runtime.rows import RowError, plural

T = TypeVar("T")
MAX_ROWS = 300_000
"""An agreement import has at most this many rows (a province's institutions × products)."""

HEADERS: dict[str, str] = {
    "institution_id": "institution_id",
    "医疗机构编码": "institution_id",
    "机构编码": "institution_id",
    "institution_type": "institution_type",
    "机构类型": "institution_type",
    "医疗机构类型": "institution_type",
    "enterprise_id": "enterprise_id",
    "企业编码": "enterprise_id",
    "中选企业编码": "enterprise_id",
    "registration_no": "registration_no",
    "注册证编号": "registration_no",
    "units": "units",
    "协议采购量": "units",
}
REQUIRED = ("institution_id", "institution_type", "registration_no", "units")
TYPE_ALIASES = {
    "公立": "public", "公立医疗机构": "public",
    "军队": "military", "军队医疗机构": "military",
    "民营": "private", "定点民营医疗机构": "private", "社会办": "private",
}

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMATS = {
    "text/csv": "CSV, UTF-8, with a header row",
    XLSX: "XLSX, first sheet, with a header row",
}


class FileRejected(Exception):
    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(plural(len(errors), "problem"))
        self.errors = errors


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a spreadsheet's number-typed id
    return unicodedata.normalize("NFKC", str(value)).strip()


def _institution_type(value: object) -> str:
    text = _text(value)
    return TYPE_ALIASES.get(text, text.lower())


def _columns(it: Iterator[Sequence[object]], headers: dict[str, str],
             required: Sequence[str]) -> dict[str, int]:
    """The header row's columns (name → index), read from ``it`` (left at the first data row)."""
    header: Sequence[object] | None = None
    for candidate in it:
        if any(_text(c) for c in candidate):
            header = candidate
            break
    if header is None:
        raise FileRejected([RowError(0, None, texts.text("the file is empty: no header row"))])
    columns: dict[str, int] = {}
    for index, cell in enumerate(header):
        name = headers.get(_text(cell).lower()) or headers.get(_text(cell))
        if name is not None and name not in columns:
            columns[name] = index
    missing = [c for c in required if c not in columns]
    if missing:
        raise FileRejected([RowError(0, None, texts.text(
            "the header lacks the column(s) {missing} (columns: {columns})",
            missing=", ".join(missing), columns=", ".join(headers)))])
    return columns


def _rows(grid: Iterable[Sequence[object]], max_rows: int) -> list[AgreementRow]:
    it = iter(grid)
    columns = _columns(it, HEADERS, REQUIRED)
    i_inst, i_type, i_reg, i_units = (columns[c] for c in REQUIRED)
    i_ent = columns.get("enterprise_id")
    width = max(columns.values()) + 1
    rows: list[AgreementRow] = []
    for cells in it:
        if not any(c is not None and str(c).strip() for c in cells):
            continue  # blank lines are not rows
        if len(rows) >= max_rows:
            raise FileRejected([RowError(0, None, texts.text("more than {max_rows} rows: split the "
                                                             "file", max_rows=max_rows))])
        if len(cells) < width:
            cells = [*cells, *([None] * (width - len(cells)))]
        units = cells[i_units]
        rows.append(AgreementRow(
            institution_id=_text(cells[i_inst]),
            institution_type=_institution_type(cells[i_type]),
            enterprise_id=_text(cells[i_ent]) or None if i_ent is not None else None,
            registration_no=_text(cells[i_reg]),
            units=units.strip() if isinstance(units, str) else units,
        ))
    return rows


HISTORY_HEADERS: dict[str, str] = {
    **{k: v for k, v in HEADERS.items() if v != "units"},
    "agreement_year": "agreement_year",
    "协议年度": "agreement_year",
    "采购协议年度": "agreement_year",
    "agreement_units": "agreement_units",
    "协议采购量": "agreement_units",
    "accepted_units": "accepted_units",
    "实际采购量": "accepted_units",
    "验收合格量": "accepted_units",
    "listing_id": "listing_id",
    "挂网编码": "listing_id",
}
"""History import (``POST /v1/programs/{id}/history``): per agreement year, institution and
product, the agreement volume and the units actually accepted."""
HISTORY_REQUIRED = ("agreement_year", "institution_id", "institution_type", "agreement_units",
                    "accepted_units")
"""And the product: ``registration_no`` or ``listing_id`` (or both, which must agree)."""


def _history_rows(grid: Iterable[Sequence[object]], max_rows: int) -> list[HistoryRow]:
    it = iter(grid)
    columns = _columns(it, HISTORY_HEADERS, HISTORY_REQUIRED)
    if "registration_no" not in columns and "listing_id" not in columns:
        raise FileRejected([RowError(0, None, texts.text(
            "the header lacks the column registration_no (or listing_id) naming the product"))])
    width = max(columns.values()) + 1
    i_ent = columns.get("enterprise_id")

    def text(cells: Sequence[object], name: str) -> str:
        return _text(cells[columns[name]]) if name in columns else ""

    def value(cells: Sequence[object], name: str) -> object:
        cell = cells[columns[name]]
        return cell.strip() if isinstance(cell, str) else cell

    rows: list[HistoryRow] = []
    for cells in it:
        if not any(c is not None and str(c).strip() for c in cells):
            continue
        if len(rows) >= max_rows:
            raise FileRejected([RowError(0, None, texts.text("more than {max_rows} rows: split the "
                                                             "file", max_rows=max_rows))])
        if len(cells) < width:
            cells = [*cells, *([None] * (width - len(cells)))]
        rows.append(HistoryRow(
            agreement_year=value(cells, "agreement_year"),
            institution_id=_text(cells[columns["institution_id"]]),
            institution_type=_institution_type(cells[columns["institution_type"]]),
            enterprise_id=_text(cells[i_ent]) or None if i_ent is not None else None,
            registration_no=text(cells, "registration_no"),
            agreement_units=value(cells, "agreement_units"),
            accepted_units=value(cells, "accepted_units"),
            listing_id=text(cells, "listing_id") or None,
        ))
    return rows


def parse_csv(data: bytes, *, max_rows: int = MAX_ROWS) -> list[AgreementRow]:
    return _read_csv(data, lambda grid: _rows(grid, max_rows))


def parse_xlsx(data: bytes, *, max_rows: int = MAX_ROWS) -> list[AgreementRow]:
    return _read_xlsx(data, lambda grid: _rows(grid, max_rows))


def parse(content_type: str, data: bytes, *, max_rows: int = MAX_ROWS) -> list[AgreementRow]:
    """The rows of an agreement file; ``ValueError`` for a format that is not accepted."""
    return _by_type(content_type, data, lambda grid: _rows(grid, max_rows))


def parse_history(content_type: str, data: bytes, *, max_rows: int = MAX_ROWS
                  ) -> list[HistoryRow]:
    """The rows of a history file (same formats); ``ValueError`` for another format."""
    return _by_type(content_type, data, lambda grid: _history_rows(grid, max_rows))


def _by_type(content_type: str, data: bytes, read: Callable[[Iterable[Sequence[object]]], T]
             ) -> T:
    kind = content_type.split(";")[0].strip().lower()
    if kind in ("text/csv", "application/csv"):
        return _read_csv(data, read)
    if kind == XLSX:
        return _read_xlsx(data, read)
    raise ValueError(kind)


def _read_csv(data: bytes, read: Callable[[Iterable[Sequence[object]]], T]) -> T:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileRejected([RowError(0, None, texts.text("the file is not UTF-8 text (bad byte at "
                                                         "offset {offset})", offset=exc.start))]
                           ) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        return read(reader)
    except csv.Error as exc:
        raise FileRejected([RowError(0, None, texts.text("the CSV cannot be read near line {line}: "
                                                         "{error}", line=reader.line_num,
                                                         error=str(exc)))]) from None


def _read_xlsx(data: bytes, read: Callable[[Iterable[Sequence[object]]], T]) -> T:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a bad file
        raise FileRejected([RowError(0, None, texts.text("the file is not a readable XLSX workbook "
                                                         "({error})", error=type(exc).__name__))]
                           ) from None
    try:
        if not workbook.worksheets:
            raise FileRejected([RowError(0, None, texts.text("the workbook has no sheet"))])
        sheet = workbook.worksheets[0]
        return read(sheet.iter_rows(values_only=True))
    finally:
        workbook.close()

