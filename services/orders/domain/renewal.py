"""R-AGR-2: renewal thresholds, the failures of a renewal, and whether an exception may pass it."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, Protocol

from services.orders.domain.common import (
    _check_count,
    _check_ratio,
    _percent,
)
from services.orders.domain.rows import enterprise_label
from services.runtime.texts import Text, text


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


def required_units(ratio: Decimal, basis: int) -> int:
    """The whole units a ratio of a basis requires: rounded up (190.95 needs 191)."""
    return math.ceil(ratio * basis)


def failure_message(check: str, enterprise: str | None, ratio: Decimal, basis: int,
                    required: int, offered: int) -> Text:
    """What a broken threshold says (its template kept, so that it is said in Chinese too);
    ``enterprise``: the enterprise as people read it (:func:`enterprise_label`)."""
    if check == "total":
        return text("total demand {offered} is below {ratio} of last year's accepted purchases "
                    "{basis}: at least {required} needed", offered=offered,
                    ratio=_percent(ratio), basis=basis, required=required)
    return text("demand {offered} for enterprise {enterprise} is below {ratio} of last year's "
                "agreement volume {basis}: at least {required} needed", offered=offered,
                enterprise=enterprise, ratio=_percent(ratio), basis=basis, required=required)


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
                    message=failure_message("total", None, total_ratio,
                                            last_year_accepted_total, required, offered),
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
                        message=failure_message(
                            "per_enterprise", enterprise_label(enterprise, enterprise_names),
                            enterprise_ratio, basis, required, offered),
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
