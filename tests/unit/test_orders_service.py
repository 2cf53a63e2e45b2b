"""The orders service's own plain-value pieces: agreement months (R-PRG-2, R-AGR-6), pacing of
an open month, stable ids, agreement file reading (R-AGR-1), and the API's number formats."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import pairwise

import openpyxl
import pytest

from contracts.orders import AgreementOut, ProgressLine, RenewalFailureOut
from services.orders import importing
from services.orders.domain import (
    agreement_id,
    agreement_month,
    agreement_months,
    month_pacing_warnings,
    pacing_warning_id,
)
from services.runtime.clock import SHANGHAI

CQ = datetime(2023, 1, 31, tzinfo=SHANGHAI)
LN = datetime(2021, 10, 15, tzinfo=SHANGHAI)


# --- agreement months --------------------------------------------------------------------------


def test_chongqing_months_are_counted_from_the_31st_with_the_day_clamped() -> None:
    months = agreement_months(CQ, 1)
    assert [m.start.date() for m in months[:3]] == [date(2023, 1, 31), date(2023, 2, 28),
                                                   date(2023, 3, 31)]
    assert months[-1].end == datetime(2024, 1, 31, tzinfo=SHANGHAI)
    assert all(a.end == b.start for a, b in pairwise(months))
    # every agreement month starts in a different calendar month: 'month' names it
    assert len({m.calendar_month for m in months}) == 12
    assert months[1].calendar_month == date(2023, 2, 1)


@pytest.mark.parametrize(("instant", "expected"), [
    (datetime(2023, 1, 31, tzinfo=SHANGHAI), (1, 1)),
    (datetime(2023, 2, 27, 23, 59, tzinfo=SHANGHAI), (1, 1)),
    (datetime(2023, 2, 28, tzinfo=SHANGHAI), (1, 2)),
    (datetime(2024, 1, 30, 23, 59, tzinfo=SHANGHAI), (1, 12)),
    (datetime(2024, 1, 31, tzinfo=SHANGHAI), (2, 1)),
    (datetime(2026, 1, 30, 16, tzinfo=SHANGHAI), (3, 12)),
])
def test_agreement_month_of_an_instant(instant: datetime, expected: tuple[int, int]) -> None:
    month = agreement_month(instant, CQ, 3)
    assert month is not None
    assert (month.year, month.month) == expected
    assert month.start <= instant < month.end


def test_no_agreement_month_outside_the_cycle() -> None:
    assert agreement_month(CQ - timedelta(seconds=1), CQ, 3) is None
    assert agreement_month(datetime(2026, 1, 31, tzinfo=SHANGHAI), CQ, 3) is None


def test_liaoning_months_run_from_the_15th() -> None:
    month = agreement_month(datetime(2022, 1, 20, 10, tzinfo=SHANGHAI), LN, 2)
    assert month is not None
    assert (month.year, month.month, month.start.date(), month.calendar_month) == (
        1, 4, date(2022, 1, 15), date(2022, 1, 1))


# --- pacing of an open month ------------------------------------------------------------------


def test_an_open_month_is_judged_only_for_what_its_end_cannot_undo() -> None:
    # EXAMPLES.md: 240 a year; a month above 40, or further than 60 from the line
    assert month_pacing_warnings(240, [40, 40, 40], month_closed=False) == []
    ahead = month_pacing_warnings(240, [40, 40, 40, 40], month_closed=False)
    assert [(w.month, w.check) for w in ahead] == [(4, "cumulative")]
    bunched = month_pacing_warnings(240, [41], month_closed=False)
    assert [(w.month, w.check) for w in bunched] == [(1, "monthly")]
    # behind the line: only once the month has ended
    assert month_pacing_warnings(240, [0, 0, 0, 0], month_closed=False) == []
    behind = month_pacing_warnings(240, [0, 0, 0, 0], month_closed=True)
    assert [(w.month, w.check) for w in behind] == [(4, "cumulative")]
    # only the last month is judged: month 1's bunching is not raised again in month 2
    assert month_pacing_warnings(240, [41, 0], month_closed=False) == []
    assert month_pacing_warnings(240, [], month_closed=True) == []


# --- ids ----------------------------------------------------------------------------------------


def test_agreement_ids_are_stable_and_fold_certificate_spacing() -> None:
    a = agreement_id("CQ", 1, "H1", "国械注准20163132305")
    assert a == agreement_id("CQ", 1, " H1 ", "国械注准 20163132305")
    assert a != agreement_id("CQ", 2, "H1", "国械注准20163132305")
    assert a.startswith("A-") and len(a) <= 64


def test_pacing_warning_ids_are_one_per_institution_product_and_month() -> None:
    w = pacing_warning_id("LN", 1, "H1", "国械注进20163130001", 4)
    assert w == pacing_warning_id("LN", 1, "H1", "国械注进 20163130001", 4)
    assert len({w, pacing_warning_id("LN", 1, "H1", "国械注进20163130001", 5),
                pacing_warning_id("LN", 1, "H2", "国械注进20163130001", 4)}) == 3


# --- agreement files ----------------------------------------------------------------------------


def test_csv_with_bom_english_header_extra_columns_and_blank_lines() -> None:
    data = ("\ufeffnote,institution_id,institution_type,registration_no,units\n"
            "x,H1,public,国械注准20163132305,30\n\n,,,,\n"
            "y,H2,军队,国械注准20163132305, 7 \n").encode()
    rows = importing.parse_csv(data)
    assert [(r.institution_id, r.institution_type, r.enterprise_id, r.units) for r in rows] == [
        ("H1", "public", None, "30"), ("H2", "military", None, "7")]


def test_a_missing_column_or_an_empty_file_is_rejected_whole() -> None:
    with pytest.raises(importing.FileRejected) as missing:
        importing.parse_csv(b"institution_id,units\nH1,3\n")
    assert "institution_type, registration_no" in missing.value.errors[0].reason
    with pytest.raises(importing.FileRejected):
        importing.parse_csv(b"\n\n")
    with pytest.raises(importing.FileRejected):
        importing.parse_csv(b"\xff\xfe")
    too_many = b"institution_id,institution_type,registration_no,units\n" + b"H,public,R,1\n" * 4
    with pytest.raises(importing.FileRejected) as big:
        importing.parse_csv(too_many, max_rows=3)
    assert "more than 3 rows" in big.value.errors[0].reason


def test_xlsx_chinese_header_and_numeric_cells() -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["医疗机构编码", "机构类型", "企业编码", "注册证编号", "协议采购量"])
    sheet.append([10023, "公立", "E-1", "国械注准20163132305", 30.0])
    out = io.BytesIO()
    book.save(out)
    rows = importing.parse_xlsx(out.getvalue())
    assert [(r.institution_id, r.institution_type, r.enterprise_id, r.units) for r in rows] == [
        ("10023", "public", "E-1", 30.0)]
    with pytest.raises(importing.FileRejected):
        importing.parse_xlsx(b"not a workbook")


def test_unknown_format() -> None:
    with pytest.raises(ValueError):
        importing.parse("application/pdf", b"")


# --- API number formats ---------------------------------------------------------------------------


def test_progress_and_ratios_are_decimal_strings() -> None:
    line = ProgressLine(agreement_units=30, accepted_units=0, progress=Decimal(0).scaleb(-4),
                        remaining=30)
    assert line.model_dump(mode="json")["progress"] == "0.0000"
    failure = RenewalFailureOut(check="total", enterprise_id=None, ratio=Decimal("0.95"),
                                basis=200, required=190, offered=189, message="m")
    assert failure.model_dump(mode="json")["ratio"] == "0.95"
    assert "winning_price" in AgreementOut.model_json_schema()["properties"]
