"""The catalog service's refusals, in one place: each a ``Refusal`` (status, stable slug,
title) that the use cases raise and the runtime renders as problem+json, and the functions that
give the detail where it is built from several values. The README's "Problem types" table lists
exactly these (tests/unit/test_service_shape.py). A program or listing nobody may see is the
runtime's generic ``not_found``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal

from services.catalog.importing import TableRejected
from services.runtime.problems import Problem, Refusal
from services.runtime.rows import as_problem_errors
from services.runtime.texts import text

# --- programs (R-PRG-1) ------------------------------------------------------------------------

PROFILE_REQUIRED = Refusal(422, "profile-required", "A policy profile is required")
UNKNOWN_PRESET = Refusal(422, "unknown-preset", "Unknown policy profile preset")
PROGRAM_EXISTS = Refusal(409, "program-exists", "Program already exists")

# --- the winning-products table (R-CAT-1, R-CAT-4) ---------------------------------------------

TABLE_REJECTED = Refusal(422, "table-rejected", "Table rejected, nothing imported")
NOT_UTF8 = Refusal(422, "not-utf8", "Table is not UTF-8 text")
UNSUPPORTED_MEDIA_TYPE = Refusal(415, "unsupported-media-type", "Unsupported table format")
CORRECTIONS_NEED_CONFIRMATION = Refusal(409, "corrections-need-confirmation",
                                        "Table changes listed winning products")

# --- non-winning listings (R-CAT-6) ------------------------------------------------------------

NOT_YOUR_ENTERPRISE = Refusal(403, "not-your-enterprise", "You can only list your own products")
ALREADY_LISTED = Refusal(409, "already-listed", "Product already listed in this program")
NO_NATIONAL_LOWEST_PRICE = Refusal(422, "no-national-lowest-price",
                                   "National lowest price unknown")
ABOVE_NATIONAL_LOWEST_PRICE = Refusal(422, "above-national-lowest-price",
                                      "Price above the national lowest")


def profile_required(presets: Iterable[str]) -> Problem:
    return PROFILE_REQUIRED(text("send 'profile' or a 'preset' (one of {presets})",
                                 presets=", ".join(sorted(presets))))


def unknown_preset(preset: str, presets: Iterable[str]) -> Problem:
    return UNKNOWN_PRESET(text("'preset' {preset!r} is not one of {presets}", preset=preset,
                               presets=", ".join(sorted(presets))),
                          errors=[{"field": "body.preset", "message": text("unknown preset")}])


def program_exists(program_id: str) -> Problem:
    return PROGRAM_EXISTS(text("program {program!r} is already published", program=program_id))


def table_rejected(exc: TableRejected) -> Problem:
    """R-CAT-1: all or nothing, every bad row named."""
    count = len(exc.errors)
    return TABLE_REJECTED(text("{count} problem", count=count) if count == 1 else
                          text("{count} problems", count=count),
                          errors=as_problem_errors(exc.errors))


def unsupported_media_type(kind: str, formats: Iterable[str]) -> Problem:
    return UNSUPPORTED_MEDIA_TYPE(
        text("Content-Type {content_type!r}; send one of: {formats}", content_type=kind,
             formats=", ".join(formats)))


def corrections_need_confirmation(changed: Sequence[tuple[int, str, dict[str, tuple[str, str]]]]
                                  ) -> Problem:
    """R-CAT-4: ``changed`` is (row's 序号, certificate, field → (old, new)) per changed row."""
    return CORRECTIONS_NEED_CONFIRMATION(
        text("{rows} rows differ from what is listed; nothing imported. Send "
             "'corrections_reason' to apply them as versioned corrections.", rows=len(changed)),
        errors=[{"row": seq, "registration_no": registration_no,
                 "changes": {k: {"old": o, "new": n} for k, (o, n) in changes.items()}}
                for seq, registration_no, changes in changed],
    )


def not_your_enterprise(enterprise_name: str, named: str, you: str) -> Problem:
    return NOT_YOUR_ENTERPRISE(text("'enterprise_name' {enterprise_name!r} is enterprise "
                                    "{named}; you are enterprise {you}",
                                    enterprise_name=enterprise_name, named=named, you=you))


def already_listed(registration_no: str, listing_id: str) -> Problem:
    return ALREADY_LISTED(text("{registration_no} is listed as {listing}",
                               registration_no=registration_no, listing=listing_id))


def no_national_lowest_price(registration_no: str) -> Problem:
    return NO_NATIONAL_LOWEST_PRICE(
        text("no provincial-platform price is recorded for {registration_no}; a non-winning "
             "product is listed at no more than it (R-CAT-6)", registration_no=registration_no))


def above_national_lowest_price(requested: Decimal, lowest: Decimal) -> Problem:
    return ABOVE_NATIONAL_LOWEST_PRICE(
        text("R-CAT-6: requested listing price {requested:.2f} is above the national lowest "
             "price {lowest:.2f}; a non-winning product is listed at no more than the national "
             "lowest price", requested=requested, lowest=lowest),
        national_lowest=f"{lowest:.2f}")


def not_utf8(exc: UnicodeDecodeError) -> Problem:
    return NOT_UTF8(text("the file is not UTF-8 text (bad byte at offset {offset})",
                         offset=exc.start))
