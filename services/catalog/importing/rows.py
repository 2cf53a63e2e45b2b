"""Row assembly (R-CAT-1..4): converting cells to a :class:`WinningRow`, the rules every row
and the table as a whole must follow, and every problem found, reported at once."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from contracts.identity import normalise_certificate
from services.catalog.importing.normalising import FIELDS, LABELS, normalise_text
from services.runtime import texts
from services.runtime.rows import RowError, plural

MAX_ROWS = 50_000
"""Tables with more data rows than this are refused, so memory stays bounded."""

CENT = Decimal("0.01")

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


def shown(value: object) -> str:
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
            return None, texts.text("{field} is missing", field=_what('seq'))
        else:
            text = unicodedata.normalize("NFKC", text)
            number = int(text) if _DIGITS.fullmatch(text) else None
    elif value is None:
        return None, texts.text("{field} is missing", field=_what('seq'))
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
        return None, texts.text("{field} {value} is not a positive whole number",
                                field=_what("seq"), value=shown(value))
    return number, None


def _to_text(name: str, value: object) -> tuple[str | None, str | None]:
    if value is None:
        return None, texts.text("{field} is missing", field=_what(name))
    text = normalise_text(value if type(value) is str else str(value))
    if not text:
        return None, texts.text("{field} is missing", field=_what(name))
    return text, None


def _certificate_error(certificate: str) -> str | None:
    if CERTIFICATE_PATTERN.match(certificate):
        return None
    return texts.text("registration certificate {certificate!r} must be 国械注 + 准/进/许 + 11 "
                      "digits", certificate=certificate)


def _to_certificate(_name: str, value: object) -> tuple[str | None, str | None]:
    if value is None:
        return None, texts.text("{field} is missing", field=_what('registration_no'))
    certificate = normalise_certificate(value if type(value) is str else str(value))
    if not certificate:
        return None, texts.text("{field} is missing", field=_what('registration_no'))
    error = _certificate_error(certificate)
    return (None, error) if error else (certificate, None)


def _to_price(name: str, value: object) -> tuple[Decimal | None, str | None]:
    amount: Decimal | None = None
    if type(value) is str:
        text = value.strip()
        if not text:
            return None, texts.text("{field} is missing", field=_what(name))
        if not text.isascii():
            text = unicodedata.normalize("NFKC", text)
        if _NUMBER.fullmatch(text):
            amount = Decimal(text)
        elif _THOUSANDS.fullmatch(text):
            amount = Decimal(text.replace(",", ""))
    elif value is None:
        return None, texts.text("{field} is missing", field=_what(name))
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
        return None, texts.text("{field} {value} is not a number", field=_what(name),
                          value=shown(value))
    if amount < 0:
        return None, texts.text("{field} {value} must not be negative", field=_what(name),
                          value=shown(value))
    try:
        quantized = amount.quantize(CENT)
    except InvalidOperation:
        return None, texts.text("{field} {value} is too large", field=_what(name),
                          value=shown(value))
    if quantized != amount:
        return None, (
            texts.text("{field} {value} has more than 2 decimal places (prices are whole fen)",
                       field=_what(name), value=shown(value))
        )
    return quantized, None


def _strict_text(name: str, value: object) -> tuple[str | None, str | None]:
    if not isinstance(value, str) or not value.strip():
        return None, texts.text("{field} is missing", field=_what(name))
    return value, None


def _strict_certificate(_name: str, value: object) -> tuple[str | None, str | None]:
    if not isinstance(value, str) or not value.strip():
        return None, texts.text("{field} is missing", field=_what('registration_no'))
    error = _certificate_error(value)
    return (None, error) if error else (value, None)


def _strict_price(name: str, value: object) -> tuple[Decimal | None, str | None]:
    if not isinstance(value, Decimal | int) or isinstance(value, bool):
        return None, texts.text("{field} {value} is not a Decimal", field=_what(name),
                          value=shown(value))
    return _to_price(name, value)


def _no_converter(name: str, value: object) -> tuple[None, str]:
    raise AssertionError(f"{name} has no converter")  # pragma: no cover


class Assembler:
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
                        texts.text("the table has more than {max_rows} rows; split it into "
                                   "smaller tables", max_rows=self.max_rows),
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
            errors.append(("seq", texts.text("{problem} (data row {position}; errors use that "
                                             "position)", problem=problem, position=position)))
        row_no = seq if seq is not None else position

        converters = self._converters
        cleaned: list[str | None] = []
        prices: list[Decimal | None] = []
        for index in (1, 2, 3, 4):
            text, problem = converters[index](FIELDS[index], values[index])
            if problem:
                errors.append((FIELDS[index], problem))
            cleaned.append(text)
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
                        texts.text("winning price {winning} does not equal product price "
                                   "{product} + service price {service} = {total}",
                                   winning=winning, product=product, service=service,
                                   total=product + service),
                    )
                )

        if seq is not None:
            first = self._seq_first.setdefault(seq, position)
            if first != position:
                errors.append(
                    (
                        "seq",
                        texts.text("序号 {seq} is used twice: data rows {first} and {position}",
                                   seq=seq, first=first, position=position),
                    )
                )
        certificate = cleaned[1]
        if certificate is not None:
            first_row, first_position = self._certificate_first.setdefault(
                certificate, (row_no, position)
            )
            if first_position != position:
                errors.append(
                    (
                        "registration_no",
                        texts.text("registration certificate {certificate} is already listed in "
                                   "row {first}; a certificate can win only once per program",
                                   certificate=certificate, first=first_row),
                    )
                )

        if errors:
            self.errors.extend(RowError(row_no, name, reason) for name, reason in errors)
            return
        name_, certificate_, enterprise_, registrant_ = cleaned
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
            raise TableRejected([RowError(0, None, texts.text("the table has no rows"))])
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
                where = (
                    texts.text("between row {previous} (line {line}) and row {first} (line "
                               "{first_line})", previous=previous, line=located[previous],
                               first=first, first_line=located[first])
                    if previous in located and first in located
                    else texts.text("before row {first} (line {first_line})", first=first,
                                    first_line=located[first]) if first in located
                    else texts.text("before row {first}", first=first))
                errors.append(RowError(
                    previous + 1, "seq",
                    texts.text("序号 {missing} missing {where}: the table has rows {present}; a "
                               "row of the table is left out, so nothing is imported",
                               missing=missing, where=where,
                               present=" and ".join(_run(a, b) for a, b in present))))
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
    assembler = Assembler(max_rows, normalise=False)
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
