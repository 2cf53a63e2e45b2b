"""Catalog rules as plain values: R-CAT-5 green channel, stable ids (R-CAT-4)."""

from datetime import UTC, datetime
from decimal import Decimal

from services.catalog import domain
from services.catalog.importing import WinningRow

ROW = WinningRow(
    seq=6, product_name="药物洗脱冠脉支架系统", registration_no="国械注进20163130682",
    declaring_enterprise="美敦力（上海）管理有限公司", registrant="Medtronic Inc.",
    product_price=Decimal("786.00"), service_price=Decimal("20.00"),
    winning_price=Decimal("806.00"),
)


def test_r_cat_5_winning_product_is_listed_at_its_winning_price() -> None:
    program = domain.Program("CQ-STENT-2023", "冠脉支架", "重庆")
    event = domain.list_winning(program, ROW, now=datetime(2023, 1, 31, tzinfo=UTC),
                                actor="regulator:B/u")
    assert event.listing_price == Decimal("806.00")
    assert event.winning is True
    assert event.key() == domain.listing_id("CQ-STENT-2023", "国械注进20163130682")


def test_ids_are_stable_and_distinct_per_program() -> None:
    assert domain.listing_id("P1", "国械注进20163130682") == domain.listing_id(
        "P1", "国械注进20163130682")
    assert domain.listing_id("P1", "国械注进20163130682") != domain.listing_id(
        "P2", "国械注进20163130682")


def test_enterprise_id_folds_bracket_width_and_spaces() -> None:
    assert domain.enterprise_id("美敦力（上海）管理 有限公司") == domain.enterprise_id(
        "美敦力(上海)管理有限公司")
    assert domain.enterprise_id("美敦力(上海)管理有限公司") != domain.enterprise_id(
        "乐普(北京)医疗器械股份有限公司")
