"""Policy profiles and program facts of the two seed notices, and the national credit schemes.

Pure data and small pure functions (no I/O, no framework). The numbers come from the notices in
``shared/seeds/`` as read in RULES.md; where a notice is silent the choice is stated next to it.

* ``000_…``: 渝医保办〔2023〕3号, Chongqing, national coronary stent continuation VBP.
* ``002_…``: 辽医保〔2021〕87号, Liaoning, inter-provincial alliance coronary guide wire VBP.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from contracts.catalog import Organiser, ProgramIn
from contracts.profiles import (
    CreditLevel,
    CreditScheme,
    Installment,
    InstallmentDue,
    OffsetPolicy,
    PacingPolicy,
    PaymentStandardPolicy,
    PolicyProfile,
    PrepaymentPolicy,
    RenewalPolicy,
    SettlementDeadline,
)
from services.runtime.clock import SHANGHAI, add_months, business_date, end_of_month_after

# --- credit schemes (R-CRD-2/3) ----------------------------------------------------------------

NATIONAL_CREDIT_2020 = CreditScheme(
    scheme="national-2020",
    levels=(
        # 一般: written reminder (书面提醒告诫).
        CreditLevel(code="general", name="一般", measures=("reminder",)),
        # 中等: reminder, and a risk warning to purchasers on the platform (提示风险).
        CreditLevel(code="moderate", name="中等", measures=("reminder", "warning")),
        # 严重: listing/bidding of the products involved restricted, their listing and
        # distribution suspended; serious ratings are published nationally.
        CreditLevel(
            code="serious",
            name="严重",
            measures=(
                "warning",
                "restrict_listing",
                "suspend_listing_involved",
                "suspend_distribution_involved",
                "public_disclosure",
            ),
        ),
        # 特别严重: all the enterprise's products in the region (and the products involved
        # everywhere: scope 'all_everywhere' on the applied measure), and public disclosure.
        CreditLevel(
            code="especially_serious",
            name="特别严重",
            measures=(
                "warning",
                "restrict_listing",
                "suspend_listing_involved",
                "suspend_distribution_involved",
                "suspend_all_products_region",
                "public_disclosure",
            ),
        ),
    ),
)
"""The 2020 national scheme (four levels), in force when both seed notices were issued. It sets
no distributor bar period: a distributor is put on the violation list by a regulator's decision
(R-SUP-4), not by this table."""

NATIONAL_CREDIT_2025 = CreditScheme(
    scheme="national-2025",
    levels=(
        CreditLevel(
            code="dishonest",
            name="失信",
            measures=("reminder", "warning", "distributor_bar"),
            distributor_bar_years=1,
        ),
        CreditLevel(
            code="seriously_dishonest",
            name="严重失信",
            measures=(
                "warning",
                "restrict_listing",
                "suspend_listing_involved",
                "suspend_distribution_involved",
                "public_disclosure",
                "distributor_bar",
            ),
            distributor_bar_years=3,
        ),
        CreditLevel(
            code="especially_seriously_dishonest",
            name="特别严重失信",
            measures=(
                "warning",
                "restrict_listing",
                "suspend_listing_involved",
                "suspend_distribution_involved",
                "suspend_all_products_region",
                "public_disclosure",
                "distributor_bar",
            ),
            distributor_bar_years=5,
        ),
    ),
)
"""The 2025 revision (three levels); a distributor loses its qualification for 1, 3 or 5 years."""

CREDIT_SCHEMES: dict[str, CreditScheme] = {
    s.scheme: s for s in (NATIONAL_CREDIT_2020, NATIONAL_CREDIT_2025)
}

# --- policy profiles ---------------------------------------------------------------------------

CHONGQING_STENTS_2023 = PolicyProfile(
    version=1,
    # 续签协议时 … 总需求量不得低于上年实际采购量的95% … 不低于该中选企业上年协议采购量的90%
    renewal=RenewalPolicy(
        total_min_ratio=Decimal("0.95"),
        per_enterprise_min_ratio=Decimal("0.90"),
        exceptions_allowed=True,  # 原则上
    ),
    # 在采购周期内每年签订采购协议: yearly agreements, completed per agreement year.
    completion_scope="agreement_year",
    # The notice sets no pacing rule.
    pacing=PacingPolicy(enabled=False),
    # 结清时间不超过交货验收合格后的次月底
    settlement=SettlementDeadline(months_after_acceptance=1, deadline="end_of_month"),
    # 落地执行后的次月底前 … 采购金额的50% …；在采购期第6个月末，预付剩余金额
    prepayment=PrepaymentPolicy(
        mode="prepay_institution",
        amount_share=Decimal(1),
        minimum_share=None,
        installments=(
            Installment(
                share=Decimal("0.5"),
                due=InstallmentDue(offset_months=1, anchor="end_of_calendar_month"),
            ),
            Installment(
                share=Decimal("0.5"),
                due=InstallmentDue(offset_months=6, anchor="months_after_start"),
            ),
        ),
    ),
    # 采购周期结束后的次月起 … 当月医保基金支付费用予以抵扣 … 继续抵扣直至抵扣完毕
    # ("采购周期" is ambiguous here: R-PAY-4 default agreement_year).
    offset=OffsetPolicy(starts_after="agreement_year", method="monthly_fund_deduction"),
    # 以中选价为支付标准，全额纳入医保支付范围 … 中选产品以外的 … 支付标准暂不调整
    payment_standard=PaymentStandardPolicy(rule="winning_price", non_winning="keep_previous"),
    # 渝医保发〔2020〕84号 applies the 2020 national scheme.
    credit=NATIONAL_CREDIT_2020,
    stock_preparation_days_before_start=None,
)

LIAONING_GUIDE_WIRES_2021 = PolicyProfile(
    version=1,
    # The notice sets no renewal thresholds.
    renewal=RenewalPolicy(),
    # 确保在采购周期内完成协议采购量
    completion_scope="cycle",
    # 将年度协议采购量按月均摊采购和使用，不得扎堆采购: the tolerance is ours (R-AGR-6 default).
    pacing=PacingPolicy(enabled=True),
    # 结清时间不得超过交货验收合格后次月底
    settlement=SettlementDeadline(months_after_acceptance=1, deadline="end_of_month"),
    # 鼓励医保基金与中选生产企业 … 直接结算。未实行 … 直接结算的地区 … 按不低于 … 年度协议量总采购
    # 金额的50%设立采购预付金 … 在采购结果执行前预付到位. A program runs in one mode (R-PAY-5): the
    # preset is the fallback every city must meet (prepay the minimum 50 % before the start);
    # a city settling directly gets a profile version with mode 'direct_settlement'.
    prepayment=PrepaymentPolicy(
        mode="prepay_institution",
        amount_share=Decimal("0.5"),
        minimum_share=Decimal("0.5"),
        installments=(
            Installment(
                share=Decimal(1),
                due=InstallmentDue(offset_months=0, anchor="before_start"),
            ),
        ),
    ),
    # 在一个采购周期结束后清算并收回
    offset=OffsetPolicy(starts_after="cycle", method="clear_and_recover"),
    # 冠脉导引导丝支付标准高限，2021年全省统一暂定为720元
    payment_standard=PaymentStandardPolicy(
        rule="category_cap", cap=Decimal("720.00"), non_winning="keep_previous"
    ),
    credit=NATIONAL_CREDIT_2020,
    # 在10月14日前 … 提前完成备货: the day before the 10-15 start.
    stock_preparation_days_before_start=1,
)


# --- programs (R-PRG-1) ------------------------------------------------------------------------


@dataclass(frozen=True)
class ProgramPreset:
    """The facts of a seed notice's program (R-PRG-1) and its policy profile."""

    key: str
    program_id: str
    category: str
    region: str
    notice_no: str
    organiser: Organiser
    procurement_doc_no: str | None
    execution_start: datetime
    cycle_years: int
    profile: PolicyProfile
    seed: str

    @property
    def cycle_end(self) -> datetime:
        """Exclusive end of the cycle: the start plus cycle_years calendar years (R-PRG-2)."""
        return add_months(self.execution_start, 12 * self.cycle_years)

    def program_in(self, program_id: str | None = None) -> ProgramIn:
        """The ``POST /v1/programs`` body publishing this program."""
        return ProgramIn(
            program_id=program_id or self.program_id,
            category=self.category,
            region=self.region,
            notice_no=self.notice_no,
            organiser=self.organiser,
            procurement_doc_no=self.procurement_doc_no,
            execution_start=self.execution_start,
            cycle_years=self.cycle_years,
        )


CHONGQING_STENTS_2023_PROGRAM = ProgramPreset(
    key="chongqing-stents-2023",
    program_id="CQ-STENT-2023",
    category="冠脉支架",
    region="重庆市",
    notice_no="渝医保办〔2023〕3号",
    organiser="national",  # 国家组织冠脉支架集中带量接续采购
    procurement_doc_no=None,  # the notice names none
    execution_start=datetime(2023, 1, 31, tzinfo=SHANGHAI),  # 本通知自2023年1月31日起实施
    cycle_years=3,
    profile=CHONGQING_STENTS_2023,
    seed="000_7fa77ec0ebae0095.txt",
)

LIAONING_GUIDE_WIRES_2021_PROGRAM = ProgramPreset(
    key="liaoning-guide-wires-2021",
    program_id="LN-GUIDEWIRE-2021",
    category="冠脉导引导丝",
    region="辽宁省",
    notice_no="辽医保〔2021〕87号",
    organiser="alliance",  # 省际联盟
    procurement_doc_no="SJLM-14-HC2021-1",
    execution_start=datetime(2021, 10, 15, tzinfo=SHANGHAI),  # 自2021年10月15日零时起
    cycle_years=2,
    profile=LIAONING_GUIDE_WIRES_2021,
    seed="002_68eb6e31b2e31617.txt",
)

PROGRAM_PRESETS: dict[str, ProgramPreset] = {
    p.key: p for p in (CHONGQING_STENTS_2023_PROGRAM, LIAONING_GUIDE_WIRES_2021_PROGRAM)
}
PRESETS: dict[str, PolicyProfile] = {key: p.profile for key, p in PROGRAM_PRESETS.items()}


# --- dates derived from a profile --------------------------------------------------------------


def installment_due_dates(profile: PolicyProfile, execution_start: datetime) -> list[datetime]:
    """R-PAY-2/3: each prepayment installment's due instant (an exclusive bound), in order.

    ``execution_start`` is the start of the period the prepayment covers: the execution start
    for the first agreement year (a later agreement year's start for the next ones). Empty for
    direct settlement. Chongqing, start 2023-01-31 00:00: [2023-03-01 00:00 (end of February),
    2023-07-31 00:00]. Liaoning, start 2021-10-15 00:00: [2021-10-15 00:00].
    """
    dues: list[datetime] = []
    for installment in profile.prepayment.installments:
        due = installment.due
        if due.anchor == "end_of_calendar_month":
            dues.append(end_of_month_after(execution_start, due.offset_months))
        elif due.anchor == "months_after_start":
            dues.append(add_months(execution_start, due.offset_months))
        else:  # before_start
            dues.append(add_months(execution_start, -due.offset_months))
    return dues


def settlement_due(profile: PolicyProfile, accepted_at: datetime) -> datetime:
    """R-PAY-1: exclusive bound by which accepted goods must be paid (end of the next month)."""
    return end_of_month_after(accepted_at, profile.settlement.months_after_acceptance)


def stock_preparation_date(profile: PolicyProfile, execution_start: datetime) -> date | None:
    """R-SUP-6: the Shanghai business date by which stock must be prepared, if the profile
    sets one (Liaoning, start 2021-10-15: 2021-10-14)."""
    days = profile.stock_preparation_days_before_start
    if days is None:
        return None
    return business_date(execution_start) - timedelta(days=days)
