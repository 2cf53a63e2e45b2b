"""History import (issue 12, item 18): reading the file and judging its rows, plain values."""

from __future__ import annotations

import io

import openpyxl
import pytest

from services.orders import domain, importing
from services.orders.domain import HistoryRow
from services.orders.importing import FileRejected

CERT, OTHER = "国械注准20163132305", "国械注进20163130682"
KNOWN = {CERT: "E-1", OTHER: "E-2"}


def row(year: object = 1, inst: str = "H1", kind: str = "public", ent: str | None = None,
        cert: str = CERT, agreed: object = "100", accepted: object = "120") -> HistoryRow:
    return HistoryRow(agreement_year=year, institution_id=inst, institution_type=kind,
                      enterprise_id=ent, registration_no=cert, agreement_units=agreed,
                      accepted_units=accepted)


def test_good_rows_pass_and_the_same_pair_may_appear_once_per_year() -> None:
    rows = [row(), row(cert=OTHER, ent="E-2"), row(year=2, accepted="0")]
    assert domain.validate_history_rows(rows, years=[1, 2], known_products=KNOWN) == []


def test_every_bad_row_is_named_with_its_file_row_number() -> None:
    rows = [row(), row(year=3), row(inst="H3", cert="国械注准20990000001"),
            row(inst="H4", accepted="1.5"), row(inst="H5", agreed="-2"),
            row(inst="H6", ent="E-2"), row()]
    errors = domain.validate_history_rows(
        rows, years=[1, 2], known_products=KNOWN,
        region_institutions=frozenset({"H1", "H3", "H4", "H5", "H6"}))
    assert [(e.row, e.field) for e in errors] == [
        (2, "agreement_year"), (3, "registration_no"), (4, "accepted_units"),
        (5, "agreement_units"), (6, "enterprise_id"), (7, None)]
    assert "not one that has started" in errors[0].reason
    assert errors[-1].reason.endswith("rows 1 and 7")  # numbered in the file, not in the year
    assert errors[3].reason.startswith("agreement units")


def test_csv_with_chinese_headers_and_xlsx_read_alike() -> None:
    text = ("协议年度,医疗机构编码,机构类型,注册证编号,协议采购量,实际采购量\n"
            "1,H1,公立,国械注准 20163132305,100,120\n")
    [csv_row] = importing.parse_history("text/csv", text.encode())
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["agreement_year", "institution_id", "institution_type", "registration_no",
                  "agreement_units", "accepted_units"])
    sheet.append([1, "H1", "public", "国械注准 20163132305", 100, 120])
    data = io.BytesIO()
    book.save(data)
    [xlsx_row] = importing.parse_history(importing.XLSX, data.getvalue())
    for r in (csv_row, xlsx_row):
        assert (r.institution_id, r.institution_type, domain.parse_units(r.agreement_units),
                domain.parse_units(r.accepted_units)) == ("H1", "public", 100, 120)
        assert domain.validate_history_rows([r], years=[1], known_products=KNOWN) == []


def test_a_file_without_the_accepted_units_column_is_refused_whole() -> None:
    with pytest.raises(FileRejected) as caught:
        importing.parse_history("text/csv", b"agreement_year,institution_id,institution_type,"
                                            b"registration_no,agreement_units\n1,H1,public,x,1\n")
    assert "accepted_units" in caught.value.errors[0].reason


def test_a_product_may_be_named_by_its_listing_id() -> None:
    text = ("agreement_year,institution_id,institution_type,listing_id,agreement_units,"
            "accepted_units\n1,H1,public,L-1,100,120\n1,H2,public,L-404,1,1\n")
    rows = importing.parse_history("text/csv", text.encode())
    resolved, errors = domain.resolve_listings(rows, {"L-1": CERT})
    assert resolved[0].registration_no == CERT
    assert [(e.row, e.field) for e in errors] == [(2, "listing_id")]
    mismatch = [row(cert=OTHER)]
    mismatch = [HistoryRow(**{**mismatch[0].__dict__, "listing_id": "L-1"})]
    _, errors = domain.resolve_listings(mismatch, {"L-1": CERT})
    assert [(e.row, e.field) for e in errors] == [(1, "listing_id")]
    with pytest.raises(FileRejected):
        importing.parse_history("text/csv", b"agreement_year,institution_id,institution_type,"
                                            b"agreement_units,accepted_units\n1,H1,public,1,1\n")
