"""R-AGR-1: the rows of an agreement-volume import and their checks; the rows of a history
import (a program onboarded under way: earlier years' volumes and actual purchases,
R-AGR-1/2/3); the stable ids of agreements and historical purchases."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum

from contracts.identity import normalise_certificate
from services.orders.domain.common import (
    _digest,
    _plain,
)
from services.runtime.rows import RowError
from services.runtime.texts import text


class InstitutionType(StrEnum):
    """R-PRG-3: public and military institutions are in scope by mandate; insurance-designated
    private institutions join voluntarily (``private`` = voluntary designated)."""

    PUBLIC = "public"
    MILITARY = "military"
    PRIVATE = "private"


INSTITUTION_TYPES: frozenset[str] = frozenset(t.value for t in InstitutionType)

ROW_FIELDS: tuple[str, ...] = (
    "institution_id",
    "institution_type",
    "enterprise_id",
    "registration_no",
    "units",
)


@dataclass(frozen=True)
class AgreementRow:
    """One line of an agreement-volume import (R-AGR-1), as read from the file.

    ``units`` is kept as read (an ``int``, a ``Decimal``, a string, or an integral float from a
    spreadsheet) so that :func:`validate_agreement_rows` can report a bad value;
    :func:`parse_units` turns a good one into an ``int``. ``enterprise_id`` may be left out:
    the product's winning enterprise is then implied.
    """

    institution_id: str
    institution_type: str
    enterprise_id: str | None
    registration_no: str
    units: object


_UNITS_TEXT = re.compile(r"[+-]?[0-9]{1,12}(?:\.[0-9]{1,12})?")
MAX_UNITS = 10**9
"""No agreement or order line is this large; a bigger number is a typing error."""


def parse_units(value: object, name: str = "units") -> int:
    """A whole number of units >= 0 from an import cell; ``ValueError`` says what is wrong.

    Accepted: ``int``, an integral ``Decimal`` or ``float`` (spreadsheets give ``30.0``), and
    text of digits (``"30"``, ``"30.0"``, full-width digits folded). Refused: booleans, blanks,
    fractions (``"30.5"``), negatives, anything that is not a number, and numbers of
    :data:`MAX_UNITS` or more. ``name``: what the cell holds, as the reason says it.
    """
    number: Decimal
    if isinstance(value, bool) or value is None:
        raise ValueError(text("{name} {value!r} is not a number", name=name, value=value))
    if isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(text("{name} {value!r} is not a number", name=name, value=value))
        number = Decimal(repr(value))
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(text("{name} {value!r} is not a number", name=name, value=value))
        number = value
    elif isinstance(value, str):
        cleaned = unicodedata.normalize("NFKC", value).strip()
        if not cleaned:
            raise ValueError(text("{name} is missing", name=name))
        if not _UNITS_TEXT.fullmatch(cleaned):
            raise ValueError(text("{name} {value!r} is not a number", name=name, value=value))
        number = Decimal(cleaned)
    else:
        raise ValueError(text("{name} {value!r} is not a number", name=name, value=value))
    if number < 0:
        raise ValueError(text("{name} {number} must not be negative", name=name,
                              number=_plain(number)))
    if number != number.to_integral_value():
        raise ValueError(text("{name} {number} is not a whole number", name=name,
                              number=_plain(number)))
    if number >= MAX_UNITS:
        raise ValueError(text("{name} {number} is too large (at most {most})", name=name,
                              number=_plain(number), most=MAX_UNITS - 1))
    return int(number)


def certificate_key(registration_no: str) -> str:
    """A registration certificate for matching: NFKC-folded, all whitespace removed (R-CAT-1:
    ``国械注准 20163132305`` is ``国械注准20163132305``); ``contracts.identity`` has the rule."""
    return normalise_certificate(registration_no)


def agreement_id(program_id: str, year: int, institution_id: str, registration_no: str) -> str:
    """An agreement's id: stable for one institution, product, program and agreement year, so
    a re-import finds the agreement it changes (R-AGR-1, R-AGR-9)."""
    return "A-" + _digest(program_id, year, institution_id.strip(),
                          certificate_key(registration_no))[:24]



def enterprise_label(enterprise_id: str, names: Mapping[str, str] | None, *,
                     quoted: bool = False) -> str:
    """An enterprise as people read it: ``E-… (上海微创医疗器械(集团)有限公司)``, or the bare id
    when its name is not known (``quoted``: the id as ``'E-…'``)."""
    name = (names or {}).get(enterprise_id)
    shown = repr(enterprise_id) if quoted else enterprise_id
    return f"{shown} ({name})" if name else shown



def validate_agreement_rows(
    rows: Sequence[AgreementRow],
    *,
    known_products: Mapping[str, str],
    region_institutions: set[str] | frozenset[str] | None = None,
    numbers: Sequence[int] | None = None,
    enterprise_names: Mapping[str, str] | None = None,
    units_name: str = "units",
) -> list[RowError]:
    """R-AGR-1: every problem of an agreement-volume import, row by row; empty = importable.
    ``numbers``: the rows' numbers in the file, when not 1, 2, 3 … (a history import checks
    each year's rows apart); ``enterprise_names`` (id → name) names enterprises in messages;
    ``units_name``: what the reasons call the units (``agreement units`` in a history).

    ``known_products`` maps the program's winning products' registration certificates to their
    declaring enterprise's id. ``region_institutions``, when given, is the set of institution
    ids of the program's region. A row can have several problems; each is one
    :class:`RowError`, in row order then field order. Checks:

    * institution id present, and in the region when the set is given;
    * institution type one of public / military / private (R-PRG-3);
    * the product is a winning product of the program (certificates compared with
      :func:`certificate_key`);
    * an enterprise id, when given, is the product's winning enterprise;
    * units a whole number >= 0 (:func:`parse_units`); 0 is allowed: an institution in scope
      may confirm no volume for a product and is still supplied (R-AGR-4);
    * the same institution and product only once in the import (the second and later rows are
      reported, naming the first).

    All-or-nothing is the caller's: an import with any error is not applied at all.
    """
    known = {certificate_key(no): enterprise for no, enterprise in known_products.items()}
    errors: list[RowError] = []
    first_seen: dict[tuple[str, str], int] = {}

    def label(enterprise: str) -> str:
        return enterprise_label(enterprise, enterprise_names, quoted=True)

    for number, row in zip(numbers or range(1, len(rows) + 1), rows, strict=True):
        institution = row.institution_id.strip()
        if not institution:
            errors.append(RowError(number, "institution_id", text("institution id is missing")))
        elif region_institutions is not None and institution not in region_institutions:
            errors.append(
                RowError(
                    number,
                    "institution_id",
                    text("institution {institution!r} is not an institution of the program's "
                         "region", institution=institution),
                )
            )
        if row.institution_type not in INSTITUTION_TYPES:
            errors.append(
                RowError(
                    number,
                    "institution_type",
                    text("institution type {type!r} must be one of public, military, private "
                         "(R-PRG-3)", type=row.institution_type),
                )
            )
        certificate = certificate_key(row.registration_no)
        if not certificate:
            errors.append(RowError(number, "registration_no",
                                   text("registration_no is missing")))
        elif certificate not in known:
            errors.append(
                RowError(
                    number,
                    "registration_no",
                    text("product {product!r} is not a winning product of this program",
                         product=certificate),
                )
            )
        elif row.enterprise_id is not None and row.enterprise_id.strip() not in (
            "",
            known[certificate],
        ):
            errors.append(
                RowError(
                    number,
                    "enterprise_id",
                    text("product {product!r} is supplied by enterprise {enterprise}, not "
                         "{named}", product=certificate, enterprise=label(known[certificate]),
                         named=label(row.enterprise_id.strip())),
                )
            )
        try:
            parse_units(row.units, units_name)
        except ValueError as exc:
            errors.append(RowError(number, "units", exc.args[0]))
        if institution and certificate:
            key = (institution, certificate)
            if key in first_seen:
                errors.append(
                    RowError(
                        number,
                        None,
                        text("institution {institution!r} and product {product!r} appear twice: "
                             "rows {first} and {row}", institution=institution,
                             product=certificate, first=first_seen[key], row=number),
                    )
                )
            else:
                first_seen[key] = number
    return errors






@dataclass(frozen=True)
class HistoryRow:
    """One line of a history import: in one past (or current) agreement year, an institution's
    agreement volume for a product and the units it actually accepted (the renewal basis of
    R-AGR-2). Values are kept as read, like :class:`AgreementRow`'s units."""

    agreement_year: object
    institution_id: str
    institution_type: str
    enterprise_id: str | None
    registration_no: str
    agreement_units: object
    accepted_units: object
    listing_id: str | None = None

    def agreement_row(self) -> AgreementRow:
        return AgreementRow(institution_id=self.institution_id,
                            institution_type=self.institution_type,
                            enterprise_id=self.enterprise_id,
                            registration_no=self.registration_no, units=self.agreement_units)


def historical_purchase_id(program_id: str, year: int, institution_id: str,
                           registration_no: str) -> str:
    """The id of an institution's actual purchases of a product in an agreement year: stable,
    so a re-import finds what it changes."""
    return "HP-" + _digest(program_id, year, institution_id.strip(),
                           certificate_key(registration_no))[:24]


def parse_year(value: object, years: Sequence[int]) -> int:
    """An agreement year from an import cell, one of ``years``; ``ValueError`` says why not."""
    try:
        year = parse_units(value)
    except ValueError:
        raise ValueError(text("agreement year {value!r} is not a whole number",
                              value=value)) from None
    if year not in years:
        raise ValueError(
            text("agreement year {year} is not one that has started in the program's cycle "
                 "({first} to {last})", year=year, first=years[0], last=years[-1]) if years
            else text("agreement year {year} is not one that has started in the program's "
                      "cycle (none yet)", year=year))
    return year


def resolve_listings(rows: Sequence[HistoryRow], winning_listings: Mapping[str, str]
                     ) -> tuple[list[HistoryRow], list[RowError]]:
    """A history row may name its product by listing id instead of registration certificate:
    the rows with the certificate filled in from ``winning_listings`` (listing id →
    certificate), and the rows whose listing is not a winning listing of the program, or names
    another product than their certificate."""
    out: list[HistoryRow] = []
    errors: list[RowError] = []
    for number, row in enumerate(rows, start=1):
        listing = (row.listing_id or "").strip()
        if listing:
            certificate = winning_listings.get(listing)
            if certificate is None:
                errors.append(RowError(number, "listing_id",
                                       text("listing {listing!r} is not a winning listing of "
                                            "this program", listing=listing)))
            elif not row.registration_no:
                row = replace(row, registration_no=certificate)
            elif certificate_key(row.registration_no) != certificate:
                errors.append(RowError(number, "listing_id",
                                       text("listing {listing!r} is product {product!r}, not "
                                            "{named!r}", listing=listing, product=certificate,
                                            named=certificate_key(row.registration_no))))
        out.append(row)
    return out, errors


def validate_history_rows(
    rows: Sequence[HistoryRow],
    *,
    years: Sequence[int],
    known_products: Mapping[str, str],
    region_institutions: set[str] | frozenset[str] | None = None,
    enterprise_names: Mapping[str, str] | None = None,
) -> list[RowError]:
    """Every problem of a history import, row by row (numbered among all the data rows); empty
    = importable. Each row is checked exactly as an agreement-import row
    (:func:`validate_agreement_rows`, its ``units`` reported as ``agreement_units``), within
    its agreement year (the same institution and product may appear once per year), and:

    * ``agreement_year`` is a year of the cycle that has started (``years``): what has not
      begun has no actual purchases;
    * ``accepted_units`` a whole number >= 0 (:func:`parse_units`); it may exceed the agreement
      volume (R-AGR-4).
    """
    errors: list[RowError] = []
    by_year: dict[int, list[int]] = {}
    undated: list[int] = []  # still checked for everything else
    for number, row in enumerate(rows, start=1):
        try:
            by_year.setdefault(parse_year(row.agreement_year, years), []).append(number)
        except ValueError as exc:
            errors.append(RowError(number, "agreement_year", exc.args[0]))
            undated.append(number)
        try:
            parse_units(row.accepted_units, "accepted units")
        except ValueError as exc:
            errors.append(RowError(number, "accepted_units", exc.args[0]))
    for numbers in [*by_year.values(), undated]:
        for e in validate_agreement_rows([rows[n - 1].agreement_row() for n in numbers],
                                         known_products=known_products,
                                         region_institutions=region_institutions,
                                         numbers=numbers, enterprise_names=enterprise_names,
                                         units_name="agreement units"):
            if e.field == "units":
                e = RowError(e.row, "agreement_units", e.reason)
            errors.append(e)
    errors.sort(key=lambda e: (e.row, e.field or ""))
    return errors
