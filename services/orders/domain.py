"""Orders rules as plain code: agreement years, agreement imports, renewal, progress, pacing,
the order lifecycle and order pricing (R-PRG-2, R-PRG-3, R-AGR-1..8, R-CAT-5).

No framework imports: the standard library and :mod:`services.runtime.clock` only, so every
rule can be tested with plain values. Counts of units are ``int``; money is ``Decimal`` (yuan,
two places); ratios are ``Decimal``; pacing arithmetic uses ``Fraction``. Never a float.

The profile parameters (:class:`RenewalPolicy`, :class:`PacingPolicy`) are small dataclasses
here; the functions accept anything with the same attributes (:class:`RenewalThresholds`,
:class:`PacingThresholds`), so ``contracts.profiles.RenewalPolicy`` / ``PacingPolicy`` from a
program's profile can be passed as they are.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Context, Decimal, Inexact, InvalidOperation, Overflow, localcontext
from enum import StrEnum
from fractions import Fraction
from functools import lru_cache
from types import MappingProxyType
from typing import Literal, Protocol

from services.runtime.clock import add_months, local
from services.runtime.rows import RowError

CENT = Decimal("0.01")
MAX_PRICE = Decimal(10**12)
"""No unit price is this large (yuan); a bigger one is refused rather than computed."""


# --------------------------------------------------------------------------------------------
# helpers


def _exact() -> Context:
    """A context in which any rounding is an error (money arithmetic stays exact)."""
    return Context(prec=60, traps=[Inexact, InvalidOperation, Overflow])


def _check_count(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be a whole number of units, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {value}")


def _check_positive(name: str, value: object) -> None:
    _check_count(name, value)
    assert isinstance(value, int)
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")


def _check_ratio(name: str, value: Decimal | None) -> None:
    if value is None:
        return
    if not isinstance(value, Decimal) or not value.is_finite() or not 0 <= value <= 1:
        raise ValueError(f"{name} must be a Decimal between 0 and 1, got {value!r}")


def _plain(number: Decimal) -> str:
    return f"{number.normalize():f}" if number == number.to_integral_value() else f"{number:f}"


def _percent(ratio: Decimal) -> str:
    return f"{(ratio * 100).normalize():f} %"


def _number(value: Fraction) -> str:
    """A fraction for people: whole numbers as such, others to 2 places (display only)."""
    if value.denominator == 1:
        return str(value.numerator)
    shown = Decimal(value.numerator) / Decimal(value.denominator)
    return f"{shown.quantize(CENT):f}"


# --------------------------------------------------------------------------------------------
# R-PRG-2 agreement years

MAX_CYCLE_YEARS = 50
"""No VBP cycle is this long (the notices have 2 and 3 years); a longer one is a typing error."""


@dataclass(frozen=True)
class AgreementYear:
    """One agreement year of a program (R-PRG-2): ``start`` inclusive, ``end`` exclusive.

    ``index`` counts from 1. Both bounds are in Asia/Shanghai time (R-PRG-4).
    """

    index: int
    start: datetime
    end: datetime

    def contains(self, instant: datetime) -> bool:
        return self.start <= local(instant) < self.end


def agreement_years(execution_start: datetime, cycle_years: int) -> list[AgreementYear]:
    """R-PRG-2: the agreement years of a cycle, back to back from the execution start.

    Year *i* runs from ``start + 12·(i-1)`` to ``start + 12·i`` calendar months in Shanghai
    time (:func:`~services.runtime.clock.add_months`, day clamped to the month's end). Every
    bound is computed from the execution start, not from the previous bound, so a start on
    29 February gives 28 February in ordinary years and 29 February again in leap years, and
    each year's end is exactly the next year's start.

    Chongqing stents (start 2023-01-31 00:00, 3 years): [2023-01-31, 2024-01-31),
    [2024-01-31, 2025-01-31), [2025-01-31, 2026-01-31).
    """
    if (
        isinstance(cycle_years, bool)
        or not isinstance(cycle_years, int)
        or not 1 <= cycle_years <= MAX_CYCLE_YEARS
    ):
        raise ValueError(
            f"a cycle lasts a whole number of years, 1 to {MAX_CYCLE_YEARS}; got {cycle_years!r}"
        )
    start = local(execution_start)
    bounds = [start] + [add_months(start, 12 * i) for i in range(1, cycle_years + 1)]
    return [
        AgreementYear(index=i + 1, start=bounds[i], end=bounds[i + 1]) for i in range(cycle_years)
    ]


def agreement_year_of(instant: datetime, execution_start: datetime, cycle_years: int) -> int | None:
    """R-PRG-2: the index (1..) of the agreement year holding ``instant``; ``None`` before the
    execution start or from the end of the cycle on (the cycle's end is exclusive)."""
    for year in agreement_years(execution_start, cycle_years):
        if year.contains(instant):
            return year.index
    return None


@dataclass(frozen=True)
class AgreementMonth:
    """One month of an agreement year (R-AGR-6 pacing): ``month`` 1..12 of agreement year
    ``year``; ``start`` inclusive, ``end`` exclusive, Asia/Shanghai.

    Months are counted from the execution start by calendar months
    (:func:`~services.runtime.clock.add_months`, day clamped), so a start on 2023-01-31 gives
    [01-31, 02-28), [02-28, 03-31), … Each month starts in a different calendar month, so
    ``calendar_month`` (the first day of the Shanghai month ``start`` falls in) names it.
    """

    year: int
    month: int
    start: datetime
    end: datetime

    @property
    def calendar_month(self) -> date:
        return date(self.start.year, self.start.month, 1)


@lru_cache(maxsize=64)
def _month_bounds(execution_start: datetime, cycle_years: int) -> tuple[datetime, ...]:
    """The 12 × cycle + 1 month bounds of a cycle (Shanghai), computed once per program."""
    start = local(execution_start)
    return tuple(add_months(start, k) for k in range(12 * cycle_years + 1))


def agreement_month(
    instant: datetime, execution_start: datetime, cycle_years: int
) -> AgreementMonth | None:
    """R-PRG-2 / R-AGR-6: the agreement year and month holding ``instant``; ``None`` outside
    the cycle (before the execution start, or from the cycle's end on)."""
    if isinstance(cycle_years, bool) or not isinstance(cycle_years, int) \
            or not 1 <= cycle_years <= MAX_CYCLE_YEARS:
        agreement_years(execution_start, cycle_years)  # raises the same error
    bounds = _month_bounds(execution_start, cycle_years)
    k = bisect_right(bounds, instant) - 1
    if not 0 <= k < len(bounds) - 1:
        return None
    return AgreementMonth(year=k // 12 + 1, month=k % 12 + 1, start=bounds[k],
                          end=bounds[k + 1])


def agreement_months(execution_start: datetime, year: int) -> list[AgreementMonth]:
    """The 12 months of agreement year ``year`` (1..) of a cycle starting ``execution_start``."""
    start = local(execution_start)
    base = 12 * (year - 1)
    return [
        AgreementMonth(year=year, month=m, start=add_months(start, base + m - 1),
                       end=add_months(start, base + m))
        for m in range(1, 13)
    ]


def _digest(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()


def agreement_id(program_id: str, year: int, institution_id: str, registration_no: str) -> str:
    """An agreement's id: stable for one institution, product, program and agreement year, so
    a re-import finds the agreement it changes (R-AGR-1, R-AGR-9)."""
    return "A-" + _digest(program_id, year, institution_id.strip(),
                          certificate_key(registration_no))[:24]


def pacing_warning_id(
    program_id: str, year: int, institution_id: str, registration_no: str, month: int
) -> str:
    """R-AGR-6: one pacing warning per institution, product and month: its deterministic id."""
    return "W-" + _digest(program_id, year, institution_id, certificate_key(registration_no),
                          month)[:24]


# --------------------------------------------------------------------------------------------
# R-AGR-1 agreement import rows


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


def parse_units(value: object) -> int:
    """A whole number of units >= 0 from an import cell; ``ValueError`` says what is wrong.

    Accepted: ``int``, an integral ``Decimal`` or ``float`` (spreadsheets give ``30.0``), and
    text of digits (``"30"``, ``"30.0"``, full-width digits folded). Refused: booleans, blanks,
    fractions (``"30.5"``), negatives, anything that is not a number, and numbers of
    :data:`MAX_UNITS` or more.
    """
    number: Decimal
    if isinstance(value, bool) or value is None:
        raise ValueError(f"units {value!r} is not a number")
    if isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"units {value!r} is not a number")
        number = Decimal(repr(value))
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"units {value!r} is not a number")
        number = value
    elif isinstance(value, str):
        text = unicodedata.normalize("NFKC", value).strip()
        if not text:
            raise ValueError("units is missing")
        if not _UNITS_TEXT.fullmatch(text):
            raise ValueError(f"units {value!r} is not a number")
        number = Decimal(text)
    else:
        raise ValueError(f"units {value!r} is not a number")
    if number < 0:
        raise ValueError(f"units {_plain(number)} must not be negative")
    if number != number.to_integral_value():
        raise ValueError(f"units {_plain(number)} is not a whole number")
    if number >= MAX_UNITS:
        raise ValueError(f"units {_plain(number)} is too large (at most {MAX_UNITS - 1})")
    return int(number)


def certificate_key(registration_no: str) -> str:
    """A registration certificate for matching: NFKC-folded, all whitespace removed (R-CAT-1:
    ``国械注准 20163132305`` is ``国械注准20163132305``)."""
    return "".join(unicodedata.normalize("NFKC", registration_no).split())


def validate_agreement_rows(
    rows: Sequence[AgreementRow],
    *,
    known_products: Mapping[str, str],
    region_institutions: set[str] | frozenset[str] | None = None,
    numbers: Sequence[int] | None = None,
    enterprise_names: Mapping[str, str] | None = None,
) -> list[RowError]:
    """R-AGR-1: every problem of an agreement-volume import, row by row; empty = importable.
    ``numbers``: the rows' numbers in the file, when not 1, 2, 3 … (a history import checks
    each year's rows apart); ``enterprise_names`` (id → name) names enterprises in messages.

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
            errors.append(RowError(number, "institution_id", "institution id is missing"))
        elif region_institutions is not None and institution not in region_institutions:
            errors.append(
                RowError(
                    number,
                    "institution_id",
                    f"institution {institution!r} is not an institution of the program's region",
                )
            )
        if row.institution_type not in INSTITUTION_TYPES:
            errors.append(
                RowError(
                    number,
                    "institution_type",
                    f"institution type {row.institution_type!r} must be one of "
                    "public, military, private (R-PRG-3)",
                )
            )
        certificate = certificate_key(row.registration_no)
        if not certificate:
            errors.append(RowError(number, "registration_no", "registration_no is missing"))
        elif certificate not in known:
            errors.append(
                RowError(
                    number,
                    "registration_no",
                    f"product {certificate!r} is not a winning product of this program",
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
                    f"product {certificate!r} is supplied by enterprise "
                    f"{label(known[certificate])}, not {label(row.enterprise_id.strip())}",
                )
            )
        try:
            parse_units(row.units)
        except ValueError as exc:
            errors.append(RowError(number, "units", str(exc)))
        if institution and certificate:
            key = (institution, certificate)
            if key in first_seen:
                errors.append(
                    RowError(
                        number,
                        None,
                        f"institution {institution!r} and product {certificate!r} appear twice: "
                        f"rows {first_seen[key]} and {number}",
                    )
                )
            else:
                first_seen[key] = number
    return errors


# --------------------------------------------------------------------------------------------
# Onboarding a program under way: earlier years' agreements and actual purchases (R-AGR-1/2/3)
# --------------------------------------------------------------------------------------------


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
        raise ValueError(f"agreement year {value!r} is not a whole number") from None
    if year not in years:
        shown = f"{years[0]} to {years[-1]}" if years else "none yet"
        raise ValueError(f"agreement year {year} is not one that has started in the program's "
                         f"cycle ({shown})")
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
                errors.append(RowError(number, "listing_id", f"listing {listing!r} is not a "
                                                             "winning listing of this program"))
            elif not row.registration_no:
                row = replace(row, registration_no=certificate)
            elif certificate_key(row.registration_no) != certificate:
                errors.append(RowError(number, "listing_id",
                                       f"listing {listing!r} is product {certificate!r}, not "
                                       f"{certificate_key(row.registration_no)!r}"))
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
            errors.append(RowError(number, "agreement_year", str(exc)))
            undated.append(number)
        try:
            parse_units(row.accepted_units)
        except ValueError as exc:
            errors.append(RowError(number, "accepted_units",
                                   str(exc).replace("units", "accepted units", 1)))
    for numbers in [*by_year.values(), undated]:
        for e in validate_agreement_rows([rows[n - 1].agreement_row() for n in numbers],
                                         known_products=known_products,
                                         region_institutions=region_institutions,
                                         numbers=numbers, enterprise_names=enterprise_names):
            if e.field == "units":
                e = RowError(e.row, "agreement_units", "agreement " + e.reason)
            errors.append(e)
    errors.sort(key=lambda e: (e.row, e.field or ""))
    return errors


# --------------------------------------------------------------------------------------------
# R-AGR-2 renewal


class RenewalThresholds(Protocol):
    """What :func:`check_renewal` reads of a renewal policy (R-AGR-2)."""

    @property
    def total_min_ratio(self) -> Decimal | None: ...

    @property
    def per_enterprise_min_ratio(self) -> Decimal | None: ...


@dataclass(frozen=True)
class RenewalPolicy:
    """R-AGR-2 thresholds. Chongqing: ``RenewalPolicy(Decimal("0.95"), Decimal("0.90"))``;
    Liaoning sets none (``RenewalPolicy()``). ``None`` means no threshold."""

    total_min_ratio: Decimal | None = None
    per_enterprise_min_ratio: Decimal | None = None

    def __post_init__(self) -> None:
        for name in ("total_min_ratio", "per_enterprise_min_ratio"):
            _check_ratio(name, getattr(self, name))


CHONGQING_RENEWAL = RenewalPolicy(Decimal("0.95"), Decimal("0.90"))

RenewalCheck = Literal["total", "per_enterprise"]


@dataclass(frozen=True)
class RenewalFailure:
    """One broken renewal threshold (R-AGR-2).

    ``basis`` is last year's number the ratio applies to (accepted total, or the enterprise's
    agreement volume); ``required`` is ``ceil(ratio × basis)``, since units are whole;
    ``offered`` is the demand reported for next year.
    """

    check: RenewalCheck
    enterprise_id: str | None
    ratio: Decimal
    basis: int
    required: int
    offered: int
    message: str


def enterprise_label(enterprise_id: str, names: Mapping[str, str] | None, *,
                     quoted: bool = False) -> str:
    """An enterprise as people read it: ``E-… (上海微创医疗器械(集团)有限公司)``, or the bare id
    when its name is not known (``quoted``: the id as ``'E-…'``)."""
    name = (names or {}).get(enterprise_id)
    shown = repr(enterprise_id) if quoted else enterprise_id
    return f"{shown} ({name})" if name else shown


def required_units(ratio: Decimal, basis: int) -> int:
    """The whole units a ratio of a basis requires: rounded up (190.95 needs 191)."""
    return math.ceil(ratio * basis)


def check_renewal(
    demand: Mapping[str, int],
    last_year_accepted_total: int,
    last_year_agreement: Mapping[str, int],
    profile: RenewalThresholds | None,
    enterprise_names: Mapping[str, str] | None = None,
) -> list[RenewalFailure]:
    """R-AGR-2: the thresholds a renewal (next agreement year's demand) breaks; empty = passes.

    * total: ``sum(demand) >= ceil(total_min_ratio × last_year_accepted_total)``; the basis is
      last year's *actual* purchases, i.e. accepted units (R-AGR-8), over all enterprises;
    * per enterprise: for every enterprise with an agreement volume at the institution last
      year, ``demand[e] >= ceil(per_enterprise_min_ratio × last_year_agreement[e])``; an
      enterprise missing from ``demand`` offers 0. Enterprises new this year have no threshold.

    No profile, or a ``None`` ratio, means no such check. Failures come total first, then by
    enterprise id; a message names the enterprise by id and, when ``enterprise_names`` knows
    it, by name (:func:`enterprise_label`). Whether a failing renewal may still pass with an
    approved exception is :func:`renewal_allowed`.
    """
    _check_count("last_year_accepted_total", last_year_accepted_total)
    for enterprise, units in last_year_agreement.items():
        _check_count(f"last year's agreement volume of {enterprise!r}", units)
    for enterprise, units in demand.items():
        _check_count(f"demand for {enterprise!r}", units)
    if profile is None:
        return []
    failures: list[RenewalFailure] = []
    total_ratio = profile.total_min_ratio
    if total_ratio is not None:
        offered = sum(demand.values())
        required = required_units(total_ratio, last_year_accepted_total)
        if offered < required:
            failures.append(
                RenewalFailure(
                    check="total",
                    enterprise_id=None,
                    ratio=total_ratio,
                    basis=last_year_accepted_total,
                    required=required,
                    offered=offered,
                    message=(
                        f"total demand {offered} is below {_percent(total_ratio)} of last "
                        f"year's accepted purchases {last_year_accepted_total}: at least "
                        f"{required} needed"
                    ),
                )
            )
    enterprise_ratio = profile.per_enterprise_min_ratio
    if enterprise_ratio is not None:
        for enterprise in sorted(last_year_agreement):
            basis = last_year_agreement[enterprise]
            offered = demand.get(enterprise, 0)
            required = required_units(enterprise_ratio, basis)
            if offered < required:
                failures.append(
                    RenewalFailure(
                        check="per_enterprise",
                        enterprise_id=enterprise,
                        ratio=enterprise_ratio,
                        basis=basis,
                        required=required,
                        offered=offered,
                        message=(
                            f"demand {offered} for enterprise "
                            f"{enterprise_label(enterprise, enterprise_names)} is below "
                            f"{_percent(enterprise_ratio)} of last year's agreement volume "
                            f"{basis}: at least {required} needed"
                        ),
                    )
                )
    return failures


def renewal_allowed(
    failures: Sequence[RenewalFailure],
    *,
    approved_exception_reason: str | None = None,
    exceptions_allowed: bool = True,
) -> bool:
    """R-AGR-2 "in principle" (原则上): a renewal with no failures passes; one that breaks a
    threshold passes only with a regulator-approved exception carrying a non-blank reason, and
    only if the profile allows exceptions (``contracts`` ``RenewalPolicy.exceptions_allowed``)."""
    if not failures:
        return True
    reason = (approved_exception_reason or "").strip()
    return exceptions_allowed and bool(reason)


# --------------------------------------------------------------------------------------------
# R-AGR-3 progress


def progress(accepted_units: int, agreement_units: int) -> Decimal | None:
    """R-AGR-3: progress = units accepted / agreement volume, as a ratio with 4 places.

    * agreement volume 0 → ``None``: there is no agreement to make progress against (an
      institution with no agreement volume is still supplied, R-AGR-4, but has no progress);
    * rounded *down* (truncated), so ``Decimal("1.0000")`` means the volume is really complete
      and 9,999 of 10,000 shows ``0.9999``, never a rounded-up 1;
    * not capped: acceptances beyond the agreement (R-AGR-4) give a ratio above 1.
    """
    _check_count("accepted_units", accepted_units)
    _check_count("agreement_units", agreement_units)
    if agreement_units == 0:
        return None
    ten_thousandths = accepted_units * 10_000 // agreement_units
    return Decimal(ten_thousandths).scaleb(-4)


def remaining(accepted: int, agreement: int) -> int:
    """R-AGR-3: agreement units still to complete; never below 0 (beyond-agreement orders,
    R-AGR-4, do not make it negative)."""
    _check_count("accepted", accepted)
    _check_count("agreement", agreement)
    return max(agreement - accepted, 0)


# --------------------------------------------------------------------------------------------
# R-AGR-6 pacing


class PacingThresholds(Protocol):
    """What :func:`pacing_warnings` reads of a pacing policy (R-AGR-6)."""

    @property
    def monthly_multiple(self) -> Decimal: ...

    @property
    def cumulative_tolerance(self) -> Decimal: ...


@dataclass(frozen=True)
class PacingPolicy:
    """R-AGR-6 tolerances (the notice gives none; these are the platform's defaults).

    A month's orders above ``monthly_multiple`` × the monthly share, or cumulative orders
    further than ``cumulative_tolerance`` × the annual volume from the even line (ahead or
    behind), raise a warning.
    """

    monthly_multiple: Decimal = Decimal(2)
    cumulative_tolerance: Decimal = Decimal("0.25")

    def __post_init__(self) -> None:
        if not self.monthly_multiple.is_finite() or self.monthly_multiple < 1:
            raise ValueError(f"monthly_multiple must be at least 1, got {self.monthly_multiple}")
        _check_ratio("cumulative_tolerance", self.cumulative_tolerance)


PacingCheck = Literal["monthly", "cumulative"]


@dataclass(frozen=True)
class PacingWarning:
    """One pacing warning (R-AGR-6) for one month (1..12 of the agreement year).

    ``ordered`` is the month's units, ``cumulative`` the units ordered through the month's end,
    ``even_line`` = annual × month / 12, ``deviation`` = cumulative − even line (positive
    ahead, negative behind), ``limit`` the bound that was exceeded: the monthly limit
    (multiple × annual / 12) for ``monthly``, the tolerance in units (tolerance × annual) for
    ``cumulative``. Numbers are exact fractions; ``reason`` shows them for people.
    """

    month: int
    check: PacingCheck
    ordered: int
    cumulative: int
    even_line: Fraction
    deviation: Fraction
    limit: Fraction
    reason: str


def pacing_warnings(
    annual_units: int,
    monthly_orders: Sequence[int],
    policy: PacingThresholds | None = None,
) -> list[PacingWarning]:
    """R-AGR-6: pacing warnings for the months of an agreement year seen so far.

    ``monthly_orders[i]`` is the units ordered in month ``i + 1`` of the agreement year (at
    most 12 months); pass only months that have ended: each month is judged at its end. For
    each month, in order, at most two warnings:

    * ``monthly``: the month's units > ``monthly_multiple × annual / 12`` (strictly above:
      exactly 2 × the share is allowed);
    * ``cumulative``: ``|cumulative − annual × month / 12| > cumulative_tolerance × annual``,
      ahead *or behind* the even line, checked every month including month 1. With the default
      25 %, an institution that orders nothing is within tolerance for months 1–3 (behind by at
      most 25 %) and is warned from month 4 on.

    An annual volume of 0 gives no warnings: pacing is measured against an agreement, and an
    institution without one (R-AGR-4) has no even line. Arithmetic is exact (``Fraction``).
    """
    _check_count("annual_units", annual_units)
    if len(monthly_orders) > 12:
        raise ValueError(f"an agreement year has 12 months, got {len(monthly_orders)}")
    for month, units in enumerate(monthly_orders, start=1):
        _check_count(f"orders of month {month}", units)
    if annual_units == 0:
        return []
    policy = policy if policy is not None else PacingPolicy()
    multiple = Fraction(policy.monthly_multiple)
    share = Fraction(annual_units, 12)
    monthly_limit = multiple * share
    tolerance = Fraction(policy.cumulative_tolerance) * annual_units
    warnings: list[PacingWarning] = []
    cumulative = 0
    for month, units in enumerate(monthly_orders, start=1):
        cumulative += units
        line = share * month
        deviation = cumulative - line
        if units > monthly_limit:
            warnings.append(
                PacingWarning(
                    month=month,
                    check="monthly",
                    ordered=units,
                    cumulative=cumulative,
                    even_line=line,
                    deviation=deviation,
                    limit=monthly_limit,
                    reason=(
                        f"month {month}: {units} ordered, above {_number(multiple)} × monthly "
                        f"share {_number(share)} = {_number(monthly_limit)}"
                    ),
                )
            )
        if abs(deviation) > tolerance:
            side = "ahead of" if deviation > 0 else "behind"
            warnings.append(
                PacingWarning(
                    month=month,
                    check="cumulative",
                    ordered=units,
                    cumulative=cumulative,
                    even_line=line,
                    deviation=deviation,
                    limit=tolerance,
                    reason=(
                        f"month {month}: cumulative {cumulative} is {_number(abs(deviation))} "
                        f"{side} the even line {_number(line)}, more than the tolerance "
                        f"{_number(tolerance)} ({_percent(policy.cumulative_tolerance)} of "
                        f"{annual_units})"
                    ),
                )
            )
    return warnings


def month_pacing_warnings(
    annual_units: int,
    monthly_orders: Sequence[int],
    policy: PacingThresholds | None = None,
    *,
    month_closed: bool,
) -> list[PacingWarning]:
    """R-AGR-6: the warnings of the *last* month of ``monthly_orders`` only.

    A closed month is judged fully (:func:`pacing_warnings`). While the month is still open
    (judging an order as it is placed) only breaches that its end cannot undo count: the
    month's units above the monthly limit, and cumulative units already further *ahead* of the
    month-end line than the tolerance; being behind is judged when the month has ended.
    """
    if not monthly_orders:
        return []
    month = len(monthly_orders)
    found = [w for w in pacing_warnings(annual_units, monthly_orders, policy) if w.month == month]
    if month_closed:
        return found
    return [w for w in found if w.check == "monthly" or w.deviation > 0]


# --------------------------------------------------------------------------------------------
# R-AGR-8 order lifecycle


class OrderStatus(StrEnum):
    """R-AGR-8: placed → routed (to a distributor) → shipped → delivered → accepted /
    partially_accepted / rejected; cancelled before shipping. The last four are final."""

    PLACED = "placed"
    ROUTED = "routed"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    ACCEPTED = "accepted"
    PARTIALLY_ACCEPTED = "partially_accepted"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


class OrderAction(StrEnum):
    """What can happen to an order (R-AGR-8). ``route`` from ``routed`` is a re-route (R-SUP-4:
    the distributor was put on the violation list before shipping)."""

    ROUTE = "route"
    SHIP = "ship"
    DELIVER = "deliver"
    ACCEPT = "accept"
    ACCEPT_PARTIALLY = "accept_partially"
    REJECT = "reject"
    CANCEL = "cancel"


TRANSITIONS: Mapping[tuple[OrderStatus, OrderAction], OrderStatus] = MappingProxyType(
    {
        (OrderStatus.PLACED, OrderAction.ROUTE): OrderStatus.ROUTED,
        (OrderStatus.ROUTED, OrderAction.ROUTE): OrderStatus.ROUTED,
        (OrderStatus.ROUTED, OrderAction.SHIP): OrderStatus.SHIPPED,
        (OrderStatus.SHIPPED, OrderAction.DELIVER): OrderStatus.DELIVERED,
        (OrderStatus.DELIVERED, OrderAction.ACCEPT): OrderStatus.ACCEPTED,
        (OrderStatus.DELIVERED, OrderAction.ACCEPT_PARTIALLY): OrderStatus.PARTIALLY_ACCEPTED,
        (OrderStatus.DELIVERED, OrderAction.REJECT): OrderStatus.REJECTED,
        (OrderStatus.PLACED, OrderAction.CANCEL): OrderStatus.CANCELLED,
        (OrderStatus.ROUTED, OrderAction.CANCEL): OrderStatus.CANCELLED,
    }
)
"""Every legal move (R-AGR-8); anything else is an :class:`IllegalTransition`."""

FINAL_STATUSES: frozenset[OrderStatus] = frozenset(
    {
        OrderStatus.ACCEPTED,
        OrderStatus.PARTIALLY_ACCEPTED,
        OrderStatus.REJECTED,
        OrderStatus.CANCELLED,
    }
)

COUNTS_TOWARD_PROGRESS: frozenset[OrderStatus] = frozenset(
    {OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_ACCEPTED}
)
"""R-AGR-8: only acceptance counts toward progress and starts the settlement clock."""


class IllegalTransition(Exception):
    """An action that the order's status does not allow (R-AGR-8)."""

    def __init__(self, current: OrderStatus, action: OrderAction) -> None:
        self.current = current
        self.action = action
        allowed = sorted(s.value for (s, a) in TRANSITIONS if a == action)
        if current in FINAL_STATUSES:
            why = f"the order is already {current.value}, which is final"
        else:
            why = f"{action.value} is allowed only when the order is {' or '.join(allowed)}"
        super().__init__(f"cannot {action.value} an order that is {current.value}: {why}")


def transition(current: OrderStatus, action: OrderAction) -> OrderStatus:
    """R-AGR-8: the order's status after ``action``, or :class:`IllegalTransition`.

    Cancel only before shipping (placed, routed); accept, accept partially or reject only once
    delivered; final statuses allow nothing. Values may be given as their strings.
    """
    current, action = OrderStatus(current), OrderAction(action)
    new = TRANSITIONS.get((current, action))
    if new is None:
        raise IllegalTransition(current, action)
    return new


class InvalidAcceptance(ValueError):
    """Acceptance quantities that cannot be (R-AGR-8)."""


@dataclass(frozen=True)
class Acceptance:
    """An institution's acceptance of a delivered order (R-AGR-8).

    ``accepted_units`` count toward progress and are settled; ``refused_units`` (delivered, not
    accepted) go back; ``undelivered_units`` were never delivered. A partial acceptance closes
    the order: the rest is not owed under it, the institution orders again if it needs more.
    """

    status: OrderStatus
    action: OrderAction
    ordered_units: int
    delivered_units: int
    accepted_units: int

    @property
    def refused_units(self) -> int:
        return self.delivered_units - self.accepted_units

    @property
    def undelivered_units(self) -> int:
        return self.ordered_units - self.delivered_units


def accept(ordered_units: int, delivered_units: int, accepted_units: int) -> Acceptance:
    """R-AGR-8: validate an acceptance, ``0 < accepted ≤ delivered ≤ ordered``.

    All ordered units accepted → ``accepted``; fewer (some refused, or a short delivery) →
    ``partially_accepted``. Accepting none is not an acceptance: reject the order with a
    reason (:func:`rejection_reason`). Apply the result with
    ``transition(status, acceptance.action)``.
    """
    for name, value in (
        ("ordered_units", ordered_units),
        ("delivered_units", delivered_units),
        ("accepted_units", accepted_units),
    ):
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidAcceptance(f"{name} must be a whole number, got {value!r}")
    if ordered_units < 1:
        raise InvalidAcceptance(f"an order has at least 1 unit, got {ordered_units}")
    if not 0 <= delivered_units <= ordered_units:
        raise InvalidAcceptance(
            f"delivered units {delivered_units} must be between 0 and the {ordered_units} ordered"
        )
    if accepted_units < 1:
        raise InvalidAcceptance(
            f"accepted units must be at least 1, got {accepted_units}: "
            "to accept nothing, reject the order with a reason"
        )
    if accepted_units > delivered_units:
        raise InvalidAcceptance(
            f"accepted units {accepted_units} exceed the {delivered_units} delivered"
        )
    full = accepted_units == ordered_units
    return Acceptance(
        status=OrderStatus.ACCEPTED if full else OrderStatus.PARTIALLY_ACCEPTED,
        action=OrderAction.ACCEPT if full else OrderAction.ACCEPT_PARTIALLY,
        ordered_units=ordered_units,
        delivered_units=delivered_units,
        accepted_units=accepted_units,
    )


def rejection_reason(reason: str | None) -> str:
    """R-AGR-8: a rejection carries a reason; returns it trimmed, or ``InvalidAcceptance``."""
    text = (reason or "").strip()
    if not text:
        raise InvalidAcceptance("a rejection needs a reason")
    return text


# --------------------------------------------------------------------------------------------
# R-CAT-5, R-AGR-4, R-AGR-5 order pricing and classes


class PriceMismatch(Exception):
    """R-CAT-5: an order's unit price differs from the listing price (no second negotiation,
    不得再次议价), by any amount."""

    def __init__(self, unit_price: Decimal, listing_price: Decimal) -> None:
        self.unit_price = unit_price
        self.listing_price = listing_price
        super().__init__(
            f"unit price {unit_price} differs from the listing price {listing_price}: orders are "
            "placed at exactly the listing price (R-CAT-5, no second negotiation)"
        )


def check_order_price(unit_price: Decimal, listing_price: Decimal) -> None:
    """R-CAT-5: refuse an order whose unit price is not exactly the listing price.

    Compared as numbers (``848`` is ``848.00``); one fen off, or a thousandth, is refused.
    Non-finite or float prices are a ``ValueError``.
    """
    for name, price in (("unit_price", unit_price), ("listing_price", listing_price)):
        if not isinstance(price, Decimal) or not price.is_finite():
            raise ValueError(f"{name} must be a finite Decimal, got {price!r}")
    if unit_price != listing_price:
        raise PriceMismatch(unit_price, listing_price)


def order_amount(units: int, unit_price: Decimal) -> Decimal:
    """Units × unit price in yuan, exactly, with two places (``3 × 848.00 = 2544.00``).

    The price must be a non-negative ``Decimal`` of whole fen; units a whole number >= 0 (0
    gives 0.00, e.g. for an acceptance total). No rounding ever happens: a result that cannot
    be exact is an error.
    """
    _check_count("units", units)
    if not isinstance(unit_price, Decimal) or not unit_price.is_finite():
        raise ValueError(f"unit_price must be a finite Decimal, got {unit_price!r}")
    if not 0 <= unit_price < MAX_PRICE:
        raise ValueError(f"unit_price must be between 0 and {MAX_PRICE}, got {unit_price}")
    if unit_price.quantize(CENT) != unit_price:  # safe: < MAX_PRICE fits any precision
        raise ValueError(f"unit_price has at most 2 decimal places, got {unit_price}")
    if units >= MAX_UNITS:
        raise ValueError(f"units {units} is too large (at most {MAX_UNITS - 1})")
    with localcontext(_exact()):
        return (unit_price * units).quantize(CENT)


class OrderClass(StrEnum):
    """How an order counts (R-AGR-4, R-AGR-5)."""

    WITHIN_AGREEMENT = "within_agreement"
    """A winning product, inside the institution's remaining agreement volume."""
    BEYOND_AGREEMENT = "beyond_agreement"
    """A winning product beyond the agreement volume: still at the winning price (R-AGR-4)."""
    NO_AGREEMENT = "no_agreement"
    """A winning product for an institution without agreement volume: still supplied (R-AGR-4)."""
    NON_WINNING = "non_winning"
    """Another listed product of the category at its listing price, counted apart (R-AGR-5)."""


def classify_order(units: int, agreement_remaining: int | None, winning: bool) -> OrderClass:
    """R-AGR-4 / R-AGR-5: the class of an order placed now.

    ``agreement_remaining`` is the institution's remaining agreement volume with the product's
    enterprise (:func:`remaining`) before this order; ``None`` means it has no agreement volume
    at all (0 means it had one and has completed it). ``winning`` is whether the listing is a
    winning product; a non-winning one is ``non_winning`` whatever the agreement.

    An order that straddles the remaining volume (10 units with 4 remaining) is *not* split
    into two orders: it is one order at one price (the winning price either way) with one
    lifecycle, classed ``beyond_agreement`` because it does not fit. How many of its units
    fall within and beyond is :func:`split_units`, for counting.
    """
    _check_positive("units", units)
    if agreement_remaining is not None:
        _check_count("agreement_remaining", agreement_remaining)
    if not winning:
        return OrderClass.NON_WINNING
    if agreement_remaining is None:
        return OrderClass.NO_AGREEMENT
    if units <= agreement_remaining:
        return OrderClass.WITHIN_AGREEMENT
    return OrderClass.BEYOND_AGREEMENT


def split_units(units: int, agreement_remaining: int | None) -> tuple[int, int]:
    """(units within, units beyond) the remaining agreement volume, for an order of a winning
    product: 10 units with 4 remaining → (4, 6); no agreement (``None``) → (0, units)."""
    _check_positive("units", units)
    if agreement_remaining is None:
        return 0, units
    _check_count("agreement_remaining", agreement_remaining)
    within = min(units, agreement_remaining)
    return within, units - within
