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
"""

from __future__ import annotations

import csv
import io
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from contracts.identity import enterprise_key as enterprise_key  # importable as before
from contracts.identity import normalise_certificate
from services.runtime.rows import RowError, plural

MAX_ROWS = 50_000
"""Tables with more data rows than this are refused, so memory stays bounded."""

CENT = Decimal("0.01")

FIELDS: tuple[str, ...] = (
    "seq",
    "product_name",
    "registration_no",
    "declaring_enterprise",
    "registrant",
    "product_price",
    "service_price",
    "winning_price",
)

LABELS: dict[str, str] = {
    "seq": "序号",
    "product_name": "产品名称",
    "registration_no": "注册证编号",
    "declaring_enterprise": "申报企业",
    "registrant": "医疗器械注册人",
    "product_price": "产品价格(元)",
    "service_price": "伴随服务价格(元)",
    "winning_price": "中选价格(元)",
}

CERTIFICATE_PATTERN = re.compile(r"^国械注[准进许][0-9]{11}$")
"""R-CAT-2: 国械注 + 准 (domestic) / 进 (imported) / 许 (HK, Macao, Taiwan) + 11 digits."""


@dataclass(frozen=True)
class WinningRow:
    """One winning product as published in the attachment table, normalised (R-CAT-1)."""

    seq: int
    product_name: str
    registration_no: str
    declaring_enterprise: str
    registrant: str
    product_price: Decimal
    service_price: Decimal
    winning_price: Decimal


class TableRejected(Exception):
    """The table is not imported at all; ``errors`` lists every problem found."""

    def __init__(self, errors: list[RowError]) -> None:
        self.errors = list(errors)
        shown = "; ".join(
            f"row {e.row}{f' {e.field}' if e.field else ''}: {e.reason}" for e in self.errors[:5]
        )
        more = f" (and {len(self.errors) - 5} more)" if len(self.errors) > 5 else ""
        super().__init__(f"table rejected, {plural(len(self.errors), 'problem')}: {shown}{more}")

    def __reduce__(self) -> tuple[type[TableRejected], tuple[list[RowError]]]:
        return (type(self), (self.errors,))


# --------------------------------------------------------------------------------------------
# normalisation


_CJK = (
    "\u2e80-\u2fdf"  # radicals
    "\u3001-\u303f"  # CJK punctuation (not U+3000, the ideographic space)
    "\u3040-\u31ff"  # kana, bopomofo, strokes
    "\u3400-\u4dbf"  # extension A
    "\u4e00-\u9fff"  # unified ideographs
    "\uf900-\ufaff"  # compatibility ideographs
    "\ufe30-\ufe4f"  # compatibility forms
    "\uff01-\uffef"  # full-width / half-width forms, including （ ）
    "\U00020000-\U0003ffff"  # extensions B..
)
_BRACKETS = r"()\[\]"
_WRAP_SPACE = re.compile(
    rf"(?<=[{_CJK}]) (?=[{_CJK}{_BRACKETS}])|(?<=[{_CJK}{_BRACKETS}]) (?=[{_CJK}])"
)


def normalise_text(value: str) -> str:
    """Collapse whitespace and drop the spaces that wrapping left inside Chinese text."""
    collapsed = " ".join(value.split())
    if " " not in collapsed:
        return collapsed
    return _WRAP_SPACE.sub("", collapsed)


def _header_key(value: object) -> str:
    if value is None:
        return ""
    return "".join(unicodedata.normalize("NFKC", str(value)).split()).casefold()


_HEADER_FIELDS: dict[str, str] = {}
for _field, _label in LABELS.items():
    _HEADER_FIELDS[_header_key(_field)] = _field
    _HEADER_FIELDS[_header_key(_label)] = _field
    _HEADER_FIELDS[_header_key(_label.removesuffix("(元)"))] = _field
_SEQ_HEADERS = frozenset(k for k, f in _HEADER_FIELDS.items() if f == "seq")


def _map_header(cells: Sequence[object]) -> tuple[dict[str, int], list[str]]:
    """Column index of each field, and the problems (missing or repeated columns)."""
    columns: dict[str, int] = {}
    problems: list[str] = []
    for index, cell in enumerate(cells):
        name = _HEADER_FIELDS.get(_header_key(cell))
        if name is None:
            continue
        if name in columns:
            problems.append(f"column {name} ({LABELS[name]}) appears twice")
        else:
            columns[name] = index
    missing = [f"{f} ({LABELS[f]})" for f in FIELDS if f not in columns]
    if missing:
        problems.append("header lacks column(s) " + ", ".join(missing))
    return columns, problems


# --------------------------------------------------------------------------------------------
# cell conversion and the rules


def _shown(value: object) -> str:
    text = str(value)
    return repr(text if len(text) <= 40 else text[:37] + "...")


def _what(name: str) -> str:
    return f"{name} ({LABELS[name]})"


def _is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


_DIGITS = re.compile(r"[0-9]{1,9}")
_NUMBER = re.compile(r"-?[0-9]{1,30}(?:\.[0-9]{1,30})?")
_FAST_PRICE = re.compile(r"[0-9]{1,15}(?:\.[0-9]{1,2})?")
_THOUSANDS = re.compile(r"-?[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?")


def _to_seq(value: object) -> tuple[int | None, str | None]:
    if type(value) is str:
        text = value.strip()
        if text.isascii() and text.isdigit() and len(text) <= 9:
            number: int | None = int(text)
        elif not text:
            return None, f"{_what('seq')} is missing"
        else:
            text = unicodedata.normalize("NFKC", text)
            number = int(text) if _DIGITS.fullmatch(text) else None
    elif value is None:
        return None, f"{_what('seq')} is missing"
    elif isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float) and math.isfinite(value) and value.is_integer():
        number = int(value)
    elif isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        number = int(value)
    else:
        number = None
    if number is None or number <= 0:
        return None, f"{_what('seq')} {_shown(value)} is not a positive whole number"
    return number, None


def _to_text(name: str, value: object) -> tuple[str | None, str | None]:
    if value is None:
        return None, f"{_what(name)} is missing"
    text = normalise_text(value if type(value) is str else str(value))
    if not text:
        return None, f"{_what(name)} is missing"
    return text, None


def _certificate_error(certificate: str) -> str | None:
    if CERTIFICATE_PATTERN.match(certificate):
        return None
    return f"registration certificate {certificate!r} must be 国械注 + 准/进/许 + 11 digits"


def _to_certificate(_name: str, value: object) -> tuple[str | None, str | None]:
    if value is None:
        return None, f"{_what('registration_no')} is missing"
    certificate = normalise_certificate(value if type(value) is str else str(value))
    if not certificate:
        return None, f"{_what('registration_no')} is missing"
    error = _certificate_error(certificate)
    return (None, error) if error else (certificate, None)


def _to_price(name: str, value: object) -> tuple[Decimal | None, str | None]:
    amount: Decimal | None = None
    if type(value) is str:
        text = value.strip()
        if not text:
            return None, f"{_what(name)} is missing"
        if not text.isascii():
            text = unicodedata.normalize("NFKC", text)
        if _NUMBER.fullmatch(text):
            amount = Decimal(text)
        elif _THOUSANDS.fullmatch(text):
            amount = Decimal(text.replace(",", ""))
    elif value is None:
        return None, f"{_what(name)} is missing"
    elif isinstance(value, bool):
        amount = None
    elif isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, float):
        # openpyxl gives floats for numeric cells: take the shortest decimal that round-trips
        # (repr), never float arithmetic, and let the whole-fen check below refuse the rest.
        amount = Decimal(repr(value))
    elif isinstance(value, Decimal):
        amount = value
    if amount is None or not amount.is_finite():
        return None, f"{_what(name)} {_shown(value)} is not a number"
    if amount < 0:
        return None, f"{_what(name)} {_shown(value)} must not be negative"
    try:
        quantized = amount.quantize(CENT)
    except InvalidOperation:
        return None, f"{_what(name)} {_shown(value)} is too large"
    if quantized != amount:
        return None, (
            f"{_what(name)} {_shown(value)} has more than 2 decimal places (prices are whole fen)"
        )
    return quantized, None


def _strict_text(name: str, value: object) -> tuple[str | None, str | None]:
    if not isinstance(value, str) or not value.strip():
        return None, f"{_what(name)} is missing"
    return value, None


def _strict_certificate(_name: str, value: object) -> tuple[str | None, str | None]:
    if not isinstance(value, str) or not value.strip():
        return None, f"{_what('registration_no')} is missing"
    error = _certificate_error(value)
    return (None, error) if error else (value, None)


def _strict_price(name: str, value: object) -> tuple[Decimal | None, str | None]:
    if not isinstance(value, Decimal | int) or isinstance(value, bool):
        return None, f"{_what(name)} {_shown(value)} is not a Decimal"
    return _to_price(name, value)


def _no_converter(name: str, value: object) -> tuple[None, str]:
    raise AssertionError(f"{name} has no converter")  # pragma: no cover


class _Assembler:
    """Converts raw rows, applies R-CAT-2..4, collects every error, bounds the row count."""

    def __init__(self, max_rows: int, *, normalise: bool = True) -> None:
        self.max_rows = max_rows
        self.normalise = normalise
        self.rows: list[WinningRow] = []
        self.errors: list[RowError] = []
        self.count = 0
        self._seq_first: dict[int, int] = {}
        self._certificate_first: dict[str, tuple[int, int]] = {}
        self._converters: tuple[Callable[[str, Any], tuple[Any, str | None]], ...] = (
            (_no_converter, _to_text, _to_certificate, _to_text, _to_text)
            if normalise
            else (_no_converter, _strict_text, _strict_certificate, _strict_text, _strict_text)
        ) + ((_to_price,) * 3 if normalise else (_strict_price,) * 3)

    def _next_position(self) -> int:
        self.count += 1
        if self.count > self.max_rows:
            raise TableRejected(
                [
                    RowError(
                        0,
                        None,
                        f"the table has more than {self.max_rows} rows; "
                        "split it into smaller tables",
                    )
                ]
            )
        return self.count

    def structural_error(self, first_cell: object, reason: str) -> None:
        """A row whose cells cannot be told apart: one error for the row."""
        position = self._next_position()
        seq, _ = _to_seq(first_cell)
        self.errors.append(RowError(seq if seq is not None else position, None, reason))

    def add_text(self, values: Sequence[str]) -> None:
        """Like :meth:`add` for a row of strings, with a fast path for a clean row.

        The fast path only accepts what :meth:`add` accepts, with the same result; anything
        unusual (odd numbers, bad certificate, duplicates, empty cells) goes through :meth:`add`,
        which reports the errors.
        """
        seq_text, name, certificate, enterprise, registrant, product, service, winning = values
        seq_text = seq_text.strip()
        certificate = "".join(certificate.split())
        product = product.strip()
        service = service.strip()
        winning = winning.strip()
        fast = _FAST_PRICE.fullmatch
        if (
            not self.normalise
            or self.count >= self.max_rows
            or not (seq_text.isascii() and seq_text.isdigit() and 0 < len(seq_text) <= 9)
            or not CERTIFICATE_PATTERN.match(certificate)
            or certificate in self._certificate_first
            or not (fast(product) and fast(service) and fast(winning))
        ):
            self.add(values)
            return
        seq = int(seq_text)
        name = normalise_text(name)
        enterprise = normalise_text(enterprise)
        registrant = normalise_text(registrant)
        product_price = Decimal(product).quantize(CENT)
        service_price = Decimal(service).quantize(CENT)
        winning_price = Decimal(winning).quantize(CENT)
        if (
            seq <= 0
            or seq in self._seq_first
            or not (name and enterprise and registrant)
            or product_price + service_price != winning_price
        ):
            self.add(values)
            return
        self.count += 1
        self._seq_first[seq] = self.count
        self._certificate_first[certificate] = (seq, self.count)
        self.rows.append(
            WinningRow(
                seq,
                name,
                certificate,
                enterprise,
                registrant,
                product_price,
                service_price,
                winning_price,
            )
        )

    def add(self, values: Sequence[object]) -> None:
        """``values`` in :data:`FIELDS` order; str, int, float, Decimal or None."""
        position = self._next_position()
        errors: list[tuple[str | None, str]] = []
        seq, problem = _to_seq(values[0])
        if problem:
            errors.append(("seq", problem + f" (data row {position}; errors use that position)"))
        row_no = seq if seq is not None else position

        converters = self._converters
        texts: list[str | None] = []
        prices: list[Decimal | None] = []
        for index in (1, 2, 3, 4):
            text, problem = converters[index](FIELDS[index], values[index])
            if problem:
                errors.append((FIELDS[index], problem))
            texts.append(text)
        for index in (5, 6, 7):
            price, problem = converters[index](FIELDS[index], values[index])
            if problem:
                errors.append((FIELDS[index], problem))
            prices.append(price)
        product, service, winning = prices
        if product is not None and service is not None and winning is not None:
            if product + service != winning:
                errors.append(
                    (
                        "winning_price",
                        f"winning price {winning} does not equal product price {product} "
                        f"+ service price {service} = {product + service}",
                    )
                )

        if seq is not None:
            first = self._seq_first.setdefault(seq, position)
            if first != position:
                errors.append(
                    (
                        "seq",
                        f"序号 {seq} is used twice: data rows {first} and {position}",
                    )
                )
        certificate = texts[1]
        if certificate is not None:
            first_row, first_position = self._certificate_first.setdefault(
                certificate, (row_no, position)
            )
            if first_position != position:
                errors.append(
                    (
                        "registration_no",
                        f"registration certificate {certificate} is already listed in "
                        f"row {first_row}; a certificate can win only once per program",
                    )
                )

        if errors:
            self.errors.extend(RowError(row_no, name, reason) for name, reason in errors)
            return
        name_, certificate_, enterprise_, registrant_ = texts
        assert seq is not None and name_ and certificate_ and enterprise_ and registrant_
        assert product is not None and service is not None and winning is not None
        self.rows.append(
            WinningRow(
                seq, name_, certificate_, enterprise_, registrant_, product, service, winning
            )
        )

    def finish(self, located: Mapping[int, int] | None = None) -> list[WinningRow]:
        """The rows, when every one is good and none is left out; ``located`` gives the line
        each 序号's row starts on, to say where a gap is."""
        if not self.errors:
            self.errors.extend(self.gaps(located or {}))
        if self.errors:
            raise TableRejected(self.errors)
        if not self.rows:
            raise TableRejected([RowError(0, None, "the table has no rows")])
        return self.rows

    def gaps(self, located: Mapping[int, int]) -> list[RowError]:
        """R-CAT-1, never half-import: the 序号 run 1, 2, ... N, so a missing one means a row
        of the table was left out (a table from 1 to 7 and 9 to 14 lacks row 8)."""
        seqs = sorted({row.seq for row in self.rows})
        if not seqs or len(seqs) == seqs[-1]:
            return []
        present = _runs(seqs)
        errors = []
        previous = 0
        for first, last in present:
            if first > previous + 1:
                missing = _run(previous + 1, first - 1)
                where = (f"between row {previous} (line {located[previous]}) and row {first} "
                         f"(line {located[first]})" if previous in located and first in located
                         else f"before row {first} (line {located[first]})" if first in located
                         else f"before row {first}")
                errors.append(RowError(
                    previous + 1, "seq",
                    f"序号 {missing} missing {where}: the table has rows "
                    f"{' and '.join(_run(a, b) for a, b in present)}; a row of the table is "
                    "left out, so nothing is imported"))
            previous = last
        return errors


def _runs(numbers: Sequence[int]) -> list[tuple[int, int]]:
    """Sorted distinct numbers as runs: [1, 2, 3, 5] -> [(1, 3), (5, 5)]."""
    runs: list[tuple[int, int]] = []
    for number in numbers:
        if runs and number == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], number)
        else:
            runs.append((number, number))
    return runs


def _run(first: int, last: int) -> str:
    return str(first) if first == last else f"{first}-{last}"


def validate(rows: Iterable[WinningRow], *, max_rows: int = MAX_ROWS) -> list[RowError]:
    """Check already-built rows against R-CAT-2..4; returns every problem (empty when valid).

    Unlike the parsers this does not normalise: a certificate with a space in it is an error
    here. Rows are numbered by their 序号 (or position when the 序号 is not positive).
    """
    assembler = _Assembler(max_rows, normalise=False)
    try:
        for row in rows:
            assembler.add(
                (
                    row.seq,
                    row.product_name,
                    row.registration_no,
                    row.declaring_enterprise,
                    row.registrant,
                    row.product_price,
                    row.service_price,
                    row.winning_price,
                )
            )
    except TableRejected as rejected:
        return rejected.errors
    return assembler.errors or assembler.gaps({})


# --------------------------------------------------------------------------------------------
# grids: CSV and XLSX


_HEADER_SEARCH_ROWS = 20


def _parse_grid(rows: Iterable[Sequence[object]], max_rows: int) -> list[WinningRow]:
    """Rows of cells; the header is the first row with a 序号/seq cell (within 20 rows)."""
    iterator = iter(rows)
    columns: dict[str, int] | None = None
    width = 0
    for seen, cells in enumerate(iterator, start=1):
        if any(_header_key(cell) in _SEQ_HEADERS for cell in cells):
            columns, problems = _map_header(cells)
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
                    f"no header row (a row with a 序号 or seq column) in the first "
                    f"{_HEADER_SEARCH_ROWS} rows",
                )
            ]
        )
    indexes = [columns[name] for name in FIELDS]
    assembler = _Assembler(max_rows)
    for cells in iterator:
        if all(_is_blank(cell) for cell in cells):
            continue
        if len(cells) > width and not all(_is_blank(c) for c in cells[width:]):
            assembler.structural_error(
                cells[indexes[0]] if indexes[0] < len(cells) else None,
                f"the row has {len(cells)} cells but the header has {width} columns",
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
                [RowError(0, None, f"the file is not UTF-8 text (bad byte at offset {exc.start})")]
            ) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        return _parse_grid(reader, max_rows)
    except csv.Error as exc:
        raise TableRejected(
            [RowError(0, None, f"the CSV cannot be read near line {reader.line_num}: {exc}")]
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
            [RowError(0, None, f"the file is not a readable XLSX workbook ({type(exc).__name__})")]
        ) from None
    try:
        if not workbook.worksheets:
            raise TableRejected([RowError(0, None, "the workbook has no sheet")])
        sheet = workbook.worksheets[0]
        return _parse_grid(sheet.iter_rows(values_only=True), max_rows)
    finally:
        workbook.close()


# --------------------------------------------------------------------------------------------
# the notice's own text


_ROW_START = re.compile(r"([0-9]{1,9}) *\t")
_ROW_SEQ = re.compile(r"([0-9]{1,9}) *(?:\t|$)")
_SEQ_ALONE = re.compile(r"[0-9]{1,9}")
_GLUED_SEQ = re.compile(r"([0-9]{1,9})(?![0-9.,])")
_MAX_LINES_PER_ROW = 20
_EDGE_SPACES = " \u3000\u00a0\r\n\f\v"


class _Record:
    """One table row being assembled from one or more physical lines."""

    __slots__ = ("cells", "line_nos", "lines", "problem", "seq")

    def __init__(self, line_no: int, line: str) -> None:
        self.line_nos = [line_no]
        self.lines = [line]
        self.cells = line.split("\t")
        match = _ROW_SEQ.match(line)
        self.seq = int(match[1]) if match else None
        self.problem: str | None = None

    def continue_inline(self, line_no: int, line: str) -> None:
        """The line carries on where the previous one stopped (a cell wrapped mid-row)."""
        fragments = line.split("\t")
        self.cells[-1] = f"{self.cells[-1]} {fragments[0]}"
        self.cells.extend(fragments[1:])
        self.lines.append(line)
        self.line_nos.append(line_no)

    def where(self) -> str:
        first, last = self.line_nos[0], self.line_nos[-1]
        return f"line {first}" if first == last else f"lines {first}-{last}"


def _cells_of(lines: Sequence[str], width: int) -> list[str] | None:
    """The cells of a row written on these lines: breaks inside cells, else on boundaries."""
    cells = lines[0].split("\t")
    for line in lines[1:]:
        fragments = line.split("\t")
        cells[-1] = f"{cells[-1]} {fragments[0]}"
        cells.extend(fragments[1:])
    cells = _trim(cells, width)
    if len(cells) == width:
        return cells
    if len(cells) < width and len(lines) - 1 == width - len(cells):
        cells = _trim("\t".join(lines).split("\t"), width)
        if len(cells) == width:
            return cells
    return None


def _trim(cells: list[str], width: int) -> list[str]:
    while len(cells) > width and not cells[-1].strip():
        cells.pop()
    return cells


def _find_header(lines: Sequence[str]) -> tuple[int, int, list[str]]:
    """(index of the first body line, header line number, header cells)."""
    candidates = [i for i, line in enumerate(lines) if line.strip(_EDGE_SPACES).startswith("序号")]
    if not candidates:
        raise TableRejected(
            [RowError(0, None, "no attachment table: no header line starting with 序号")]
        )
    tabbed = [i for i in candidates if "\t" in lines[i]]
    start = (tabbed or candidates)[0]
    header = lines[start].strip(_EDGE_SPACES)
    body = start + 1
    _, problems = _map_header(header.split("\t"))
    # a wrapped header: append following lines until it names every column
    while problems and body < len(lines) and body - start <= 3:
        following = lines[body].strip(_EDGE_SPACES)
        if _ROW_START.match(following):
            break
        body += 1
        if following:
            header = f"{header} {following}"
            _, problems = _map_header(header.split("\t"))
    if problems:
        raise TableRejected(
            [RowError(0, None, f"header on line {start + 1}: {p}") for p in problems]
        )
    return body, start + 1, _trim(header.split("\t"), 0)


@dataclass(frozen=True)
class SkippedLine:
    """A line inside the table that is not a row of it (a page number, the header repeated
    after a page break, the notice's closing lines): skipped, and reported as skipped."""

    line: int
    text: str
    reason: str


@dataclass(frozen=True)
class NoticeTable:
    """What :func:`read_notice_text` read: every row, and the lines it skipped between them."""

    rows: list[WinningRow]
    skipped: list[SkippedLine]


MAX_SKIPPED_SHOWN = 1000
"""At most this many skipped lines are listed (their number is always given)."""

_PAGE_MARKER = re.compile(
    r"[-—–－―~～_·•]+\s*[0-9]{1,4}\s*[-—–－―~～_·•]*"  # — 3 —, - 3 -, -3
    r"|第\s*[0-9]{1,4}\s*页\s*[,，/／]?\s*(?:共\s*[0-9]{1,4}\s*页)?"  # 第 2 页 共 3 页
    r"|共\s*[0-9]{1,4}\s*页\s*[,，/／]?\s*第\s*[0-9]{1,4}\s*页"  # 共 3 页 第 2 页
    r"|[0-9]{1,4}\s*[/／]\s*[0-9]{1,4}"  # 2/3
    r"|page\s*[0-9]{1,4}(?:\s*(?:of|/)\s*[0-9]{1,4})?",  # Page 2 of 3
    re.IGNORECASE,
)
_DATE_LINE = re.compile(r"[0-9]{4}\s*年\s*[0-9]{1,2}\s*月")
_ROWISH = re.compile(r"([0-9]{1,9})\s*[.、．]?\s*([^\s0-9].*)")
_NAME_CHARACTER = re.compile(r"[A-Za-z\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def _page_marker(line: str) -> bool:
    """``— 3 —``, ``- 3 -``, ``第 2 页 共 3 页``, ``2/3``, ``Page 2 of 3``: a page's number."""
    return _PAGE_MARKER.fullmatch(line.strip()) is not None


def _broken_row_seq(line: str) -> int | None:
    """The 序号 of a line that looks like a row of the table but cannot be read as one: a
    sequence number followed by a product-like name (``9 钴铬合金… 国械注准 …`` without tabs,
    ``12药物洗脱支架系统``). A date (``2023 年 1 月 16 日``) is not a row."""
    match = _ROWISH.fullmatch(line.strip())
    if match is None or _DATE_LINE.match(line.strip()):
        return None
    name = match[2]
    if not _NAME_CHARACTER.match(name) or len(_NAME_CHARACTER.findall(name)) < 2:
        return None
    return int(match[1])


def parse_notice_text(text: str, *, max_rows: int = MAX_ROWS) -> list[WinningRow]:
    """The rows of :func:`read_notice_text` (the lines it skipped are dropped)."""
    return read_notice_text(text, max_rows=max_rows).rows


def read_notice_text(text: str, *, max_rows: int = MAX_ROWS) -> NoticeTable:
    """The attachment table from the notice's full text, or from just the table's text.

    The table starts at the first line beginning with 序号 (the header; columns are found by
    name, so their order may vary) and runs to another table's 序号 header or the end of the
    text: the whole text is read, so nothing after a stray line is ever lost. Inside it:

    * blank lines are skipped; the header repeated after a page break and page numbers
      (``— 3 —``, ``第 2 页 共 3 页``) are skipped and listed as skipped, wherever they are;
    * a line starting with a number and a tab starts a row, and so does the row's 序号 alone
      on its line;
    * while a row has fewer cells than the header, the next line carries it on: the line's
      first fragment continues the row's last cell (joined by a space, which normalisation
      later removes between Chinese characters) and its other fragments are the next cells.
      A line starting with the next 序号 starts the next row instead. If a row ends up exactly
      as many cells short as it has line breaks, its breaks were cell boundaries;
    * after a complete row, a line starting with a tab continues the row column by column
      (fragment *i* is appended to cell *i*);
    * after a complete row, a line without tabs is not part of a row: if a row of the table
      follows it, it is skipped and listed with its line number (the notice's closing lines,
      an issuing office and date, that a PDF's page break left between rows), unless it
      looks like a broken row -- a 序号 and a product-like name that cannot be read as the
      header's cells -- which refuses the table naming the line. Such lines after the last
      row are text after the table, not listed (a broken row there with a 序号 above the
      last one is refused: it would be a row left out);
    * the last row may have taken in text after the table (when its own last line lacked
      cells): trailing untabbed lines are dropped if that makes the row whole;
    * the 序号 must run 1, 2, ... without a gap (see :meth:`_Assembler.finish`).

    Anything that cannot be resolved is a :class:`RowError`; nothing is guessed silently.
    """
    lines = text.splitlines()
    body, _, header_cells = _find_header(lines)
    columns, _ = _map_header(header_cells)
    width = len(header_cells)
    header_key = _header_key("".join(header_cells))
    indexes = [columns[name] for name in FIELDS]
    assembler = _Assembler(max_rows)
    skipped: list[SkippedLine] = []
    located: dict[int, int] = {}  # 序号 -> the line its row starts on
    pending: list[tuple[int, str]] = []  # untabbed lines after a complete row, not yet judged

    def finish(record: _Record, *, last: bool = False) -> int | None:
        """Add the row; for the table's last row, the index of any trailing non-table line."""
        if record.seq is not None:
            located.setdefault(record.seq, record.line_nos[0])
        if record.problem is not None:
            assembler.structural_error(record.cells[0], record.problem)
            return None
        cells: list[str] | None = _trim(record.cells, width)
        if cells is not None and len(cells) != width:
            cells = _cells_of(record.lines, width)
        ended_at = None
        if cells is None and last:
            # the last row may have taken in untabbed text that follows the table
            for keep in range(len(record.lines) - 1, 0, -1):
                if "\t" in record.lines[keep]:
                    break
                cells = _cells_of(record.lines[:keep], width)
                if cells is not None:
                    ended_at = record.line_nos[keep] - 1
                    break
        if cells is None:
            assembler.structural_error(
                record.cells[0],
                f"{record.where()}: expected {width} tab-separated cells, "
                f"found {len(_trim(record.cells, width))}",
            )
            return None
        assembler.add_text([cells[i] for i in indexes])
        return ended_at

    def between_rows() -> None:
        """A row follows the pending lines: each is skipped, or refused as a broken row."""
        for line_no, line in pending:
            seq = _broken_row_seq(line)
            if seq is None:
                why = "a page number" if _SEQ_ALONE.fullmatch(line) else "not a row of the table"
                skipped.append(SkippedLine(line_no, line, why))
            else:
                assembler.errors.append(RowError(seq, None, _broken_row(line_no, line, width)))
        pending.clear()

    def start(line_no: int, line: str) -> _Record:
        between_rows()
        return _Record(line_no, line)

    current: _Record | None = None
    ended_at: int | None = None  # index of the line that ended the table
    last_seq = 0  # the highest 序号 seen, to notice a table that goes on after its "end"
    index = body
    while index < len(lines):
        line_no = index + 1
        line = lines[index].strip(_EDGE_SPACES)
        index += 1
        if not line.strip():
            continue
        if line.startswith("序号"):
            if _header_key(line) == header_key:
                skipped.append(SkippedLine(line_no, line, "the table's header, repeated"))
                continue
            ended_at = index - 1
            break  # another table begins
        match = _ROW_START.match(line)
        if match is None and _page_marker(line):
            skipped.append(SkippedLine(line_no, line, "a page number"))
            continue
        alone = match is None and _SEQ_ALONE.fullmatch(line) is not None  # "9", cells below
        if current is None:
            if match is None and not alone and "\t" not in line:
                pending.append((line_no, line))
                continue
            current = start(line_no, line)
            last_seq = max(last_seq, current.seq or 0)
            continue
        if len(_trim(current.cells, width)) < width:
            seq = int(match[1]) if match else (int(line) if alone else None)
            if match is not None and len(current.lines) == 1 and current.cells == [
                    str(seq)] and seq == current.seq:
                # "6" then "6<TAB>...": the number alone was the page's, not the row's
                skipped.append(SkippedLine(current.line_nos[0], current.lines[0],
                                           "a page number"))
                current = _Record(line_no, line)
                continue
            if seq is None and current.seq is not None:
                glued = _GLUED_SEQ.match(line)  # "12药物..." : the next 序号 lost its tab
                seq = int(glued[1]) if glued else None
            if seq is not None and current.seq is not None and seq == current.seq + 1:
                finish(current)
                current = start(line_no, line)
                last_seq = max(last_seq, seq)
            elif len(current.lines) >= _MAX_LINES_PER_ROW and "\t" not in line:
                ended_at = index - 1
                break  # no row wraps over that many lines: this is text after the table
            else:
                current.continue_inline(line_no, line)
            continue
        if match is not None or ("\t" in line and not line.startswith("\t")):
            finish(current)
            current = start(line_no, line)
            last_seq = max(last_seq, current.seq or 0)
            continue
        if line.startswith("\t"):
            fragments = _trim(line.split("\t"), width)
            if len(fragments) > width:
                current.problem = (
                    f"line {line_no} continues the row but has {len(fragments)} "
                    f"tab-separated cells, more than the header's {width}"
                )
                continue
            for position, fragment in enumerate(fragments):
                if fragment.strip():
                    current.cells[position] = f"{current.cells[position]} {fragment}"
            continue
        if alone and current.seq is not None and int(line) == current.seq + 1:
            finish(current)  # the next 序号 alone on its line, the row's cells follow
            current = start(line_no, line)
            last_seq = max(last_seq, current.seq or 0)
            continue
        pending.append((line_no, line))  # judged when a row follows, else text after the table
    if current is not None:
        dropped_at = finish(current, last=True)
        if dropped_at is not None:
            ended_at = dropped_at
    for line_no, line in pending:  # after the last row: a lost row is refused, not dropped
        seq = _broken_row_seq(line)
        if seq is not None and seq > last_seq:
            assembler.errors.append(RowError(seq, None, _broken_row(line_no, line, width)))
    if ended_at is not None and last_seq:
        _check_table_really_ended(lines, ended_at, last_seq, width, assembler)
    rows = assembler.finish(located)
    return NoticeTable(rows, sorted(skipped, key=lambda s: s.line))


def _broken_row(line_no: int, line: str, width: int) -> str:
    return (
        f"line {line_no} {_shown(line)} looks like a row of the table (a 序号 and a name) "
        f"but cannot be read as one: a row has {width} tab-separated cells"
    )


def _check_table_really_ended(
    lines: Sequence[str], ended_at: int, last_seq: int, width: int, assembler: _Assembler
) -> None:
    """Rows of this table after its end mean the end was misread: report, never truncate.

    Up to the next table (a 序号 line), a line counts as a row of this table when it starts
    with a 序号 above ``last_seq`` and has tabs, has nearly the header's number of tabs, or is
    a 序号 above ``last_seq`` alone on its line with a tabbed line after it.
    """
    for index in range(ended_at + 1, len(lines)):
        line = lines[index].strip(_EDGE_SPACES)
        if line.startswith("序号"):
            return  # another table
        match = _ROW_SEQ.match(line)
        tabs = line.count("\t")
        rowish = tabs >= max(width - 2, 2) or (
            match is not None
            and int(match[1]) > last_seq
            and (tabs >= 2 or _tabbed_next(lines, index))
        )
        if rowish:
            assembler.errors.append(
                RowError(
                    last_seq,
                    None,
                    f"line {ended_at + 1} {_shown(lines[ended_at].strip())} ended the table "
                    f"after row {last_seq}, but line {index + 1} {_shown(line)} looks like "
                    "a row of it",
                )
            )
            return


def _tabbed_next(lines: Sequence[str], index: int) -> bool:
    """Whether the next non-blank line after ``index`` has at least two tabs."""
    for j in range(index + 1, len(lines)):
        if lines[j].strip():
            return lines[j].count("\t") >= 2
    return False
