"""A program's policy profile (配套政策): every parameter the services need, as data (RULES.md).

The notices describe one machine with different settings; the settings live here, never as
constants in code. Each field names the rule (``R-…``) it parameterises. The catalog service owns
profiles (one per program, versioned); orders, supply, payments and monitoring read them.

Numbers are exact: ratios and money are :class:`~decimal.Decimal`, travel as decimal strings in
JSON (``"0.95"``, ``"720.00"``) and are never floats (a float in input is refused).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    model_validator,
)

from contracts.money import Money
from contracts.monitoring import MeasureKind

RATIO_PATTERN = r"^(0(\.\d+)?|1(\.0+)?)$"


def _to_decimal(value: Any, what: str, example: str) -> Decimal:
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError(f'a {what} must be a decimal string such as "{example}", not a float')
    if isinstance(value, int):
        value = Decimal(value)
    if isinstance(value, str):
        try:
            value = Decimal(value.strip())
        except InvalidOperation as exc:
            raise ValueError(f"not a decimal {what}: {value!r}") from exc
    if not isinstance(value, Decimal) or not value.is_finite():
        raise ValueError(f"a {what} must be a finite decimal")
    return value


def to_ratio(value: Any) -> Decimal:
    """Parse a ratio in 0..1 from a decimal string, an int or a Decimal; never a float."""
    ratio = _to_decimal(value, "ratio", "0.95")
    if not Decimal(0) <= ratio <= Decimal(1):
        raise ValueError(f"a ratio must be between 0 and 1, got {ratio}")
    return ratio


def to_factor(value: Any) -> Decimal:
    """Parse a multiplier (>= 1) from a decimal string, an int or a Decimal; never a float."""
    factor = _to_decimal(value, "factor", "2")
    if factor < 1:
        raise ValueError(f"a factor must be at least 1, got {factor}")
    return factor


def _decimal_str(d: Decimal) -> str:
    return str(d)


Ratio = Annotated[
    Decimal,
    BeforeValidator(to_ratio),
    PlainSerializer(_decimal_str, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": RATIO_PATTERN, "examples": ["0.95"]}),
]
"""A share or threshold in 0..1 (``"0.95"`` is 95 %), a decimal string in JSON."""

Factor = Annotated[
    Decimal,
    BeforeValidator(to_factor),
    PlainSerializer(_decimal_str, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": r"^\d+(\.\d+)?$", "examples": ["2"]}),
]
"""A multiplier of at least 1, a decimal string in JSON."""

CompletionScope = Literal["agreement_year", "cycle"]
PrepaymentMode = Literal["prepay_institution", "direct_settlement"]
DueAnchor = Literal["end_of_calendar_month", "months_after_start", "before_start"]
OffsetStartsAfter = Literal["agreement_year", "cycle"]
OffsetMethod = Literal["monthly_fund_deduction", "clear_and_recover"]
PaymentStandardRule = Literal["winning_price", "category_cap"]
NonWinningStandard = Literal["keep_previous"]
SettlementDeadlineKind = Literal["end_of_month"]
CreditSchemeName = Literal["national-2020", "national-2025"]


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- agreements and orders ---------------------------------------------------------------------


class RenewalPolicy(_Part):
    """R-AGR-2: thresholds a renewal (next agreement year's demand) must meet."""

    total_min_ratio: Ratio | None = Field(
        default=None,
        description="R-AGR-2: an institution's total reported demand for the next agreement "
        "year must be at least this share of its actual (accepted) purchases in the previous "
        "year; null = no threshold (Chongqing 0.95, Liaoning none). Units are whole: the "
        "threshold is rounded up.",
    )
    per_enterprise_min_ratio: Ratio | None = Field(
        default=None,
        description="R-AGR-2: demand for each winning enterprise must be at least this share "
        "of that enterprise's agreement volume at the institution in the previous year; null = "
        "no threshold (Chongqing 0.90, Liaoning none).",
    )
    exceptions_allowed: bool = Field(
        default=True,
        description="R-AGR-2: the thresholds hold 'in principle' (原则上): a renewal that breaks "
        "one is accepted only with a regulator-approved exception and a reason. False = never.",
    )


class PacingPolicy(_Part):
    """R-AGR-6: even pacing of purchases over the months (no 扎堆采购)."""

    enabled: bool = Field(
        default=False,
        description="R-AGR-6: whether pacing is monitored (Liaoning: yes; Chongqing: not set).",
    )
    monthly_multiple: Factor = Field(
        default=Decimal(2),
        description="R-AGR-6: a month's orders above this multiple of the monthly share "
        "(annual agreement volume / 12) raise a pacing warning. Default 2.",
    )
    cumulative_tolerance: Ratio = Field(
        default=Decimal("0.25"),
        description="R-AGR-6: cumulative orders further than this share of the annual volume "
        "ahead of or behind the even line raise a pacing warning. Default 0.25.",
    )


# --- payments ----------------------------------------------------------------------------------


class SettlementDeadline(_Part):
    """R-PAY-1: when an institution must pay the enterprise for accepted goods."""

    months_after_acceptance: int = Field(
        default=1,
        ge=0,
        le=12,
        description="R-PAY-1: the deadline falls in the Shanghai month this many months after "
        "the acceptance month (1 = 次月底, the end of the next month).",
    )
    deadline: SettlementDeadlineKind = Field(
        default="end_of_month",
        description="R-PAY-1, R-PRG-4: 'end_of_month' = the exclusive bound 00:00 Asia/Shanghai "
        "on the first day of the following month.",
    )


class InstallmentDue(_Part):
    """R-PAY-2/3: when a prepayment installment is due, relative to the period's start."""

    offset_months: int = Field(
        ge=0,
        le=120,
        description="R-PAY-2: months counted from the start of the period the prepayment "
        "covers (the execution start for the first agreement year).",
    )
    anchor: DueAnchor = Field(
        description="R-PAY-2/3: 'end_of_calendar_month' = by the end of the Shanghai calendar "
        "month offset_months after the start's month (exclusive bound at 00:00 on the next "
        "month's first day; 1 = 次月底); 'months_after_start' = by start + offset_months "
        "calendar months, the day clamped to the month's end (2023-01-31 + 6 = 2023-07-31); "
        "'before_start' = before start - offset_months months (0 = before execution starts).",
    )


class Installment(_Part):
    """One installment of a prepayment (R-PAY-2/3)."""

    share: Ratio = Field(
        gt=0,
        description="R-PAY-2: this installment's share of the prepayment amount; the shares of "
        "a profile's installments sum to exactly 1. The last installment is 'the remaining "
        "amount', so it absorbs any rounding.",
    )
    due: InstallmentDue = Field(description="R-PAY-2/3: when the installment is due.")


class PrepaymentPolicy(_Part):
    """R-PAY-2/3/5: medical-insurance prepayment to institutions, or direct settlement."""

    mode: PrepaymentMode = Field(
        description="R-PAY-5: 'prepay_institution' = the fund prepays institutions (R-PAY-2/3); "
        "'direct_settlement' = the fund pays enterprises directly for accepted goods and "
        "nothing is prepaid. A program runs in one mode.",
    )
    amount_share: Ratio | None = Field(
        default=None,
        gt=0,
        description="R-PAY-2/3: share of the institution's agreement-year procurement amount "
        "(agreement volume × winning price) that is prepaid: Chongqing 1 (50 % then the "
        "remaining amount), Liaoning 0.5 (the minimum). Required for 'prepay_institution'.",
    )
    minimum_share: Ratio | None = Field(
        default=None,
        description="R-PAY-3: the lowest amount_share the notice allows (Liaoning: at least "
        "50 % of the annual agreement amount); null = the notice fixes the amount.",
    )
    installments: tuple[Installment, ...] = Field(
        default=(),
        max_length=24,
        description="R-PAY-2/3: the schedule, in order; shares sum to exactly 1. Empty for "
        "'direct_settlement'.",
    )

    @model_validator(mode="after")
    def _schedule_fits_mode(self) -> Self:
        if self.mode == "direct_settlement":
            if self.installments or self.amount_share is not None:
                raise ValueError(
                    "R-PAY-5: a direct-settlement program prepays nothing: no installments "
                    "and no amount_share"
                )
            return self
        if self.amount_share is None:
            raise ValueError("R-PAY-2: amount_share is required when prepaying institutions")
        if not self.installments:
            raise ValueError("R-PAY-2: at least one installment is required when prepaying")
        total = sum((i.share for i in self.installments), Decimal(0))
        if total != 1:
            raise ValueError(f"R-PAY-2: installment shares must sum to exactly 1, got {total}")
        if self.minimum_share is not None and self.amount_share < self.minimum_share:
            raise ValueError(
                f"R-PAY-3: amount_share {self.amount_share} is below the minimum "
                f"{self.minimum_share}"
            )
        return self


class OffsetPolicy(_Part):
    """R-PAY-3/4: how an outstanding prepayment is recovered."""

    starts_after: OffsetStartsAfter = Field(
        default="agreement_year",
        description="R-PAY-4: recovery starts in the month after this period ends; the notice "
        "is ambiguous ('采购周期结束后'), default 'agreement_year' since prepayments are "
        "computed per agreement year. Liaoning (R-PAY-3): 'cycle'.",
    )
    method: OffsetMethod = Field(
        default="monthly_fund_deduction",
        description="R-PAY-4: 'monthly_fund_deduction' = deducted from the institution's "
        "monthly fund payments, carrying over until fully offset (Chongqing); "
        "'clear_and_recover' = cleared against the agreement's completion and recovered "
        "after the period (Liaoning, 清算并收回).",
    )


# --- catalog -----------------------------------------------------------------------------------


class PaymentStandardPolicy(_Part):
    """R-CAT-7: the price up to which the insurance fund pays (医保支付标准)."""

    rule: PaymentStandardRule = Field(
        default="winning_price",
        description="R-CAT-7: 'winning_price' = a winning product's payment standard is its "
        "winning price, fully covered (Chongqing); 'category_cap' = the winning price, or "
        "the category cap when that is lower (Liaoning guide wires 2021: 720.00).",
    )
    cap: Money | None = Field(
        default=None,
        description="R-CAT-7: the category cap (支付标准高限) in yuan; required with "
        "'category_cap', not allowed otherwise.",
    )
    non_winning: NonWinningStandard = Field(
        default="keep_previous",
        description="R-CAT-7: non-winning products keep their previous payment standard.",
    )

    @model_validator(mode="after")
    def _cap_fits_rule(self) -> Self:
        if self.rule == "category_cap":
            if self.cap is None:
                raise ValueError("R-CAT-7: a cap is required when the rule is category_cap")
            if self.cap <= 0:
                raise ValueError(f"R-CAT-7: the cap must be positive, got {self.cap}")
        elif self.cap is not None:
            raise ValueError("R-CAT-7: a cap is only allowed when the rule is category_cap")
        return self


# --- credit ------------------------------------------------------------------------------------


class CreditLevel(_Part):
    """One severity level of a credit scheme and the measures it carries (R-CRD-2/3)."""

    code: str = Field(
        min_length=1,
        max_length=40,
        pattern=r"^[a-z][a-z0-9_]*$",
        description="R-CRD-2: stable code of the level, e.g. 'serious'.",
    )
    name: str = Field(
        min_length=1,
        max_length=20,
        description="R-CRD-2: the level's name in the scheme, e.g. 严重 or 严重失信.",
    )
    measures: tuple[MeasureKind, ...] = Field(
        min_length=1,
        description="R-CRD-3: measures applied at this level. 'distributor_bar' applies to "
        "distributors only (R-SUP-4); the others to enterprises.",
    )
    distributor_bar_years: int | None = Field(
        default=None,
        ge=1,
        le=20,
        description="R-CRD-3: years a distributor rated at this level loses its distribution "
        "qualification in the region (2025 rules: 1, 3, 5); only with 'distributor_bar'; "
        "null with 'distributor_bar' = until repaired (R-CRD-4).",
    )
    repair_min_months: int | None = Field(
        default=None,
        ge=0,
        le=120,
        description="R-CRD-4: months after the rating before a repair can be approved; null = "
        "no minimum set by the scheme.",
    )

    @model_validator(mode="after")
    def _bar_years_need_bar(self) -> Self:
        if len(set(self.measures)) != len(self.measures):
            raise ValueError(f"R-CRD-3: level {self.code!r} lists a measure twice")
        if self.distributor_bar_years is not None and "distributor_bar" not in self.measures:
            raise ValueError(
                f"R-CRD-3: level {self.code!r} sets distributor_bar_years without the "
                "'distributor_bar' measure"
            )
        return self


class CreditScheme(_Part):
    """R-CRD-2: the credit rating scheme (医药价格和招采信用评价) a program applies."""

    scheme: CreditSchemeName = Field(
        description="R-CRD-2: 'national-2020' (four levels, in force when both seed notices "
        "were issued) or 'national-2025' (three levels).",
    )
    levels: tuple[CreditLevel, ...] = Field(
        min_length=1,
        max_length=10,
        description="R-CRD-2/3: levels from the mildest to the most severe; an enterprise's "
        "rating in a region is the most severe level among its active records.",
    )

    @model_validator(mode="after")
    def _levels_unique(self) -> Self:
        codes = [level.code for level in self.levels]
        names = [level.name for level in self.levels]
        if len(set(codes)) != len(codes) or len(set(names)) != len(names):
            raise ValueError("R-CRD-2: level codes and names must be unique within a scheme")
        return self

    def level(self, code_or_name: str) -> CreditLevel:
        """The level with this code or name; KeyError when the scheme has none."""
        for level in self.levels:
            if code_or_name in (level.code, level.name):
                return level
        raise KeyError(code_or_name)

    def severity(self, code_or_name: str) -> int:
        """0 for the mildest level, increasing with severity (R-CRD-2: worst record wins)."""
        return self.levels.index(self.level(code_or_name))


# --- monitoring (R-CRD-1/4, R-MON-1/2) -----------------------------------------------------------


class AssessmentWeights(_Part):
    """R-MON-2: weights of the annual assessment's parts (each in 0..1, summing to exactly 1)."""

    progress: Ratio = Field(
        default=Decimal("0.5"),
        description="R-MON-2: weight of progress (accepted units / agreement volume, capped at "
        "1, R-AGR-3).",
    )
    pacing: Ratio = Field(
        default=Decimal("0.2"),
        description="R-MON-2: weight of pacing (share of the year's elapsed months without a "
        "pacing warning, R-AGR-6).",
    )
    repayment: Ratio = Field(
        default=Decimal("0.3"),
        description="R-MON-2: weight of repayment (share of settlements paid on time, R-PAY-1).",
    )

    @model_validator(mode="after")
    def _sum_to_one(self) -> Self:
        total = self.progress + self.pacing + self.repayment
        if total != 1:
            raise ValueError(f"R-MON-2: assessment weights must sum to exactly 1, got {total}")
        return self


class MonitoringPolicy(_Part):
    """R-CRD-1/4, R-MON-1/2: thresholds of the monitoring service (defaults are ours: the
    notices set none)."""

    late_delivery_hours: int = Field(
        default=72, ge=1, le=24 * 366,
        description="R-CRD-1, R-SUP-3: a delivery later than this many hours after the order "
        "was placed is proposed as a credit record (late delivery).",
    )
    unfilled_order_days: int = Field(
        default=15, ge=1, le=366,
        description="R-CRD-1: an order not delivered (nor cancelled) this many days after it "
        "was placed is proposed as a credit record (unfilled order).",
    )
    open_supply_risk_days: int = Field(
        default=7, ge=1, le=366,
        description="R-CRD-1, R-SUP-4: a supply risk still open this many days after it opened "
        "is proposed as a credit record.",
    )
    rejections_threshold: int = Field(
        default=3, ge=1, le=1000,
        description="R-CRD-1: this many quality rejections of one enterprise's deliveries in a "
        "region within the window are proposed as a credit record.",
    )
    rejections_window_days: int = Field(
        default=90, ge=1, le=3660,
        description="R-CRD-1: the window, in days, in which rejections are counted.",
    )
    repair_min_months: int = Field(
        default=3, ge=0, le=120,
        description="R-CRD-4: months after a record took effect before a repair can be approved, "
        "where the record's level sets none (CreditLevel.repair_min_months).",
    )
    repair_reapply_days: int = Field(
        default=30, ge=0, le=3660,
        description="R-CRD-4: days after a refused repair before the enterprise may apply again.",
    )
    completion_risk_threshold: Ratio = Field(
        default=Decimal("0.8"),
        description="R-AGR-3, R-MON-1: an institution × product whose projected progress at the "
        "end of the agreement year is below this share is a completion risk.",
    )
    assessment: AssessmentWeights = Field(
        default_factory=AssessmentWeights,
        description="R-MON-2: weights of the annual assessment.",
    )


# --- the profile -------------------------------------------------------------------------------


class PolicyProfile(_Part):
    """Every parameter of a program (配套政策), versioned. See RULES.md for each rule."""

    version: int = Field(
        default=1,
        ge=1,
        description="Version of the program's profile; each change is a new version "
        "(R-AGR-9: no change outside the platform, every change recorded).",
    )
    renewal: RenewalPolicy = Field(
        default_factory=RenewalPolicy,
        description="R-AGR-2: renewal thresholds; none by default.",
    )
    completion_scope: CompletionScope = Field(
        description="R-AGR-3: the agreement volume must be completed within the "
        "'agreement_year' (Chongqing, yearly agreements) or the 'cycle' (Liaoning).",
    )
    pacing: PacingPolicy = Field(
        default_factory=PacingPolicy,
        description="R-AGR-6: even pacing over the months.",
    )
    settlement: SettlementDeadline = Field(
        default_factory=SettlementDeadline,
        description="R-PAY-1: settlement deadline after acceptance.",
    )
    prepayment: PrepaymentPolicy = Field(
        description="R-PAY-2/3/5: prepayment schedule, or direct settlement.",
    )
    offset: OffsetPolicy | None = Field(
        default=None,
        description="R-PAY-3/4: how prepayments are recovered; required when prepaying "
        "institutions, absent with direct settlement.",
    )
    payment_standard: PaymentStandardPolicy = Field(
        default_factory=PaymentStandardPolicy,
        description="R-CAT-7: payment standard of winning products.",
    )
    credit: CreditScheme = Field(
        description="R-CRD-2/3/4: credit rating levels and their measures.",
    )
    stock_preparation_days_before_start: int | None = Field(
        default=None,
        ge=0,
        le=366,
        description="R-SUP-6: stock must be prepared by the Shanghai business date this many "
        "days before the execution start's date (Liaoning: 1, i.e. 2021-10-14); null = the "
        "notice sets no date.",
    )
    monitoring: MonitoringPolicy = Field(
        default_factory=MonitoringPolicy,
        description="R-CRD-1/4, R-MON-1/2: proposal thresholds, repair periods, completion-risk "
        "threshold and assessment weights (defaults when a profile predates them).",
    )

    @model_validator(mode="after")
    def _offset_fits_prepayment(self) -> Self:
        if self.prepayment.mode == "prepay_institution" and self.offset is None:
            raise ValueError("R-PAY-4: an offset policy is required when prepaying institutions")
        if self.prepayment.mode == "direct_settlement" and self.offset is not None:
            raise ValueError("R-PAY-5: a direct-settlement program has nothing to offset")
        return self


class ProgramProfileChange(BaseModel):
    """Body of a request replacing a program's policy profile with its next version.

    ``expected_version`` is the version being replaced (optimistic concurrency: a stale one is
    refused); the new profile's version must be the next one. Who and when come from the
    request; why is the ``reason`` (R-AGR-9: every change has who, when and why).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    expected_version: int = Field(ge=1, description="The version of the profile being replaced.")
    profile: PolicyProfile = Field(description="The new profile, version expected_version + 1.")
    reason: str = Field(
        min_length=1, max_length=1000, description="Why the profile changes (R-AGR-9)."
    )

    @model_validator(mode="after")
    def _next_version(self) -> Self:
        if self.profile.version != self.expected_version + 1:
            raise ValueError(
                f"the new profile must have version {self.expected_version + 1}, "
                f"got {self.profile.version}"
            )
        return self
