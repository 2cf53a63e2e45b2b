"""The orders service's refusals, in one place: each a ``Refusal`` (status, stable slug, title)
that the application layer raises with a detail and the runtime renders as problem+json; and
the functions that turn the domain's refusals (placement, lifecycle, acceptance) into them.
The README's "Problem types" table lists exactly these (tests/unit/test_orders_errors.py)."""

from __future__ import annotations

from collections.abc import Sequence

from services.orders import domain
from services.runtime.problems import Problem, Refusal, not_found
from services.runtime.rows import RowError, as_problem_errors
from services.runtime.texts import text

MAX_REPORTED_ERRORS = 10_000
"""A rejected import names every bad row, up to this many problems (the total is given)."""

INVALID = Refusal(422, "validation", "Request is not valid")
NOT_YOUR_INSTITUTION = Refusal(403, "not-your-institution",
                               "You act only for your own institution")
UNSUPPORTED_MEDIA_TYPE = Refusal(415, "unsupported-media-type", "Unsupported file format")
AGREEMENTS_REJECTED = Refusal(422, "agreements-rejected",
                              "Agreement import rejected, nothing imported")
HISTORY_REJECTED = Refusal(422, "history-rejected", "History import rejected, nothing imported")
NO_SUCH_AGREEMENT_YEAR = Refusal(422, "no-such-agreement-year", "No such agreement year")
NO_AGREEMENT_YEAR_NOW = Refusal(422, "outside-cycle", "No agreement year holds now")
# placing an order
UNKNOWN_LISTING = Refusal(422, "unknown-listing", "Unknown listing")
UNKNOWN_PROGRAM = Refusal(422, "unknown-program", "The listing's program is not known yet")
LISTING_SUSPENDED = Refusal(422, "listing-suspended", "Listing suspended")
PRICE_MISMATCH = Refusal(422, "price-mismatch", "Unit price is not the listing price")
INSTITUTION_NOT_IN_REGION = Refusal(403, "institution-not-in-region",
                                    "Institution not in the program's region")
OUTSIDE_CYCLE = Refusal(422, "outside-cycle", "Outside the program's cycle")
# the order's lifecycle
ILLEGAL_TRANSITION = Refusal(409, "illegal-transition", "Not allowed in the order's status")
INVALID_ACCEPTANCE = Refusal(422, "invalid-acceptance", "Acceptance not possible")
REASON_REQUIRED = Refusal(422, "reason-required", "A reason is required")
# renewals
RENEWAL_REFUSED = Refusal(422, "renewal-refused", "Renewal refused")
RENEWAL_ALREADY_ACCEPTED = Refusal(409, "renewal-already-accepted", "Renewal already accepted")
RENEWAL_BASIS_CHANGED = Refusal(409, "renewal-basis-changed",
                                "Last year's figures changed meanwhile")
RENEWAL_NOT_REFUSED = Refusal(409, "renewal-not-refused",
                              "Only a refused renewal takes an exception")
EXCEPTIONS_NOT_ALLOWED = Refusal(422, "exceptions-not-allowed",
                                 "The profile allows no exception")


def not_your_institution(institution_id: str, org: str) -> Problem:
    return NOT_YOUR_INSTITUTION(text("'institution_id' {institution!r} is not your institution "
                                     "{org!r}", institution=institution_id, org=org))


def unsupported_media_type(content_type: str, formats: Sequence[str]) -> Problem:
    return UNSUPPORTED_MEDIA_TYPE(text("Content-Type {content_type!r}; send one of: {formats}",
                                       content_type=content_type, formats=", ".join(formats)))


def _rows_rejected(refusal: Refusal, errors: Sequence[RowError]) -> Problem:
    shown = sorted(errors, key=lambda e: (e.row, e.field or ""))[:MAX_REPORTED_ERRORS]
    return refusal(text("{count} problems in {rows} rows", count=len(errors),
                        rows=len({e.row for e in errors})),
                   error_count=len(errors), truncated=len(errors) > len(shown),
                   errors=as_problem_errors(shown))


def agreements_rejected(errors: Sequence[RowError]) -> Problem:
    """R-AGR-1: every bad row of an agreement import, by its position; nothing imported."""
    return _rows_rejected(AGREEMENTS_REJECTED, errors)


def history_rejected(errors: Sequence[RowError]) -> Problem:
    """Every bad row of a history import, by its position; nothing imported."""
    return _rows_rejected(HISTORY_REJECTED, errors)


def program_unknown(program_id: str) -> Problem:
    problem = not_found("program", program_id)
    problem.detail = text("program {program!r} is not known to the orders service (yet): it "
                          "learns programs from catalog's events", program=program_id)
    return problem


def no_such_agreement_year(program_id: str, years: int, index: int) -> Problem:
    return NO_SUCH_AGREEMENT_YEAR(text("program {program!r} has agreement years 1 to {years} "
                                       "(R-PRG-2), not {index}", program=program_id,
                                       years=years, index=index))


def placement_refused(refused: domain.PlacementRefused | domain.PriceMismatch) -> Problem:
    """The problem answering an order ``domain.decide_order`` refused."""
    detail = refused.args[0]
    if isinstance(refused, domain.PriceMismatch):
        return PRICE_MISMATCH(
            detail, unit_price=f"{refused.unit_price:.2f}",
            listing_price=f"{refused.listing_price:.2f}",
            errors=[{"field": "body.unit_price",
                     "message": f"must be {refused.listing_price:.2f}"}])
    if isinstance(refused, domain.UnknownListing):
        return UNKNOWN_LISTING(detail, errors=[{"field": "body.listing_id",
                                                "message": text("unknown listing")}])
    if isinstance(refused, domain.UnknownProgram):
        return UNKNOWN_PROGRAM(detail)
    if isinstance(refused, domain.ListingSuspended):
        return LISTING_SUSPENDED(detail, listing_id=refused.listing_id)
    if isinstance(refused, domain.InstitutionNotInRegion):
        return INSTITUTION_NOT_IN_REGION(detail)
    if isinstance(refused, domain.OutsideCycle):
        return OUTSIDE_CYCLE(detail)
    raise TypeError(f"no problem for {type(refused).__name__}")


def illegal_transition(refused: domain.IllegalTransition) -> Problem:
    """R-AGR-8: a move the order's status does not allow."""
    return ILLEGAL_TRANSITION(refused.args[0], status_now=refused.current.value,
                              action=refused.action.value)


def invalid_acceptance(refused: domain.InvalidAcceptance) -> Problem:
    detail = refused.args[0]
    return INVALID_ACCEPTANCE(detail, errors=[{"field": "body.accepted_units",
                                               "message": detail}])


def reason_required(refused_units: int) -> Problem:
    return REASON_REQUIRED(text("{units} delivered units are not accepted: say why",
                                units=refused_units),
                           errors=[{"field": "body.reason", "message": text("required")}])
