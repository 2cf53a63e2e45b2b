"""Importing the winning-product table (R-CAT-1..4): services.catalog.importing."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import Workbook

from services.catalog.importing import (
    FIELDS,
    MAX_ROWS,
    RowError,
    SkippedLine,
    TableRejected,
    WinningRow,
    enterprise_key,
    normalise_text,
    parse_csv,
    parse_notice_text,
    parse_xlsx,
    read_notice_text,
    validate,
)
from services.catalog.sample_tables import synthetic_rows, synthetic_table

SHARED = Path(__file__).resolve().parents[3] / "shared"
SEED = SHARED / "seeds" / "000_7fa77ec0ebae0095.txt"
WINNING_CSV = SHARED / "data" / "chongqing-stents-2023-winning.csv"

HEADER = (  # exactly the seed's header line
    "序号\t产品名称\t注册证编号\t申报企业\t医疗器械注册人\t"
    "产品价格 (元)\t伴随服务价格 (元)\t中选价格(元)"
)
CENT = Decimal("0.01")


def seed_text() -> str:
    return SEED.read_text(encoding="utf-8")


def shared_cells() -> list[list[str]]:
    """The shared CSV's rows as plain strings, read with the csv module only."""
    with WINNING_CSV.open(encoding="utf-8", newline="") as handle:
        return [[record[name] for name in FIELDS] for record in csv.DictReader(handle)]


def expected_rows() -> list[WinningRow]:
    return [
        WinningRow(
            int(cells[0]),
            cells[1],
            cells[2],
            cells[3],
            cells[4],
            Decimal(cells[5]).quantize(CENT),
            Decimal(cells[6]).quantize(CENT),
            Decimal(cells[7]).quantize(CENT),
        )
        for cells in shared_cells()
    ]


def notice_table(rows: list[list[str]]) -> str:
    return "\n".join([HEADER, *("\t".join(cells) for cells in rows)]) + "\n"


def rejected_notice(text: str) -> list[RowError]:
    with pytest.raises(TableRejected) as info:
        parse_notice_text(text)
    return info.value.errors


def assert_same_rows(got: list[WinningRow], expected: list[WinningRow]) -> None:
    assert len(got) == len(expected) == 14
    for row, want in zip(got, expected, strict=True):
        for name in FIELDS:
            assert getattr(row, name) == getattr(want, name), (row.seq, name)
            assert type(getattr(row, name)) is type(getattr(want, name)), (row.seq, name)
        for name in FIELDS[5:]:
            assert getattr(row, name).as_tuple().exponent == -2, (row.seq, name)
    assert got == expected


# --- the seed, the shared CSV, XLSX: the same 14 rows (R-CAT-1) ------------------------------


def test_r_cat_1_seed_notice_text_gives_exactly_the_shared_csv_rows() -> None:
    rows = parse_notice_text(seed_text())
    assert_same_rows(rows, expected_rows())
    by_seq = {row.seq: row for row in rows}
    assert by_seq[9].product_name == "钴铬合金生物可降解涂层雷帕霉素洗脱冠脉支架系统"
    assert by_seq[6].declaring_enterprise == "美敦力（上海）管理有限公司"
    assert by_seq[7].product_name == "药物涂层支架系统（雷帕霉素）"
    assert by_seq[10].registrant == "Boston Scientific Corporation"
    assert by_seq[1].registration_no == "国械注准20163132305"
    assert by_seq[1].declaring_enterprise == "上海微创医疗器械(集团)有限公司"  # half-width kept


def test_r_cat_1_table_text_alone_gives_the_same_rows() -> None:
    text = seed_text()
    table = text[text.index("序号") : text.index("抄送")]
    assert_same_rows(parse_notice_text(table), expected_rows())


def test_r_cat_1_shared_csv_bytes_str_and_bom_give_the_same_rows() -> None:
    data = WINNING_CSV.read_bytes()
    assert_same_rows(parse_csv(data), expected_rows())
    assert_same_rows(parse_csv(data.decode("utf-8")), expected_rows())
    assert_same_rows(parse_csv(b"\xef\xbb\xbf" + data), expected_rows())


def test_r_cat_1_csv_with_chinese_header_any_bracket_width_and_wrapping_noise() -> None:
    lines = [
        "序号,产品名称,注册证编号,申报企业,医疗器械注册人,"
        "产品价格 （元）,伴随服务价格(元),中选价格（元）"
    ]
    for cells in shared_cells():
        cells = list(cells)
        if cells[0] == "6":
            cells[3] = "美敦力（上海）管理 有限公司"
            cells[2] = "国械注进 20163130682"
        lines.append(",".join(f'"{cell}"' for cell in cells))
    data = ("\r\n".join(lines) + "\r\n").encode("utf-8-sig")
    assert_same_rows(parse_csv(data), expected_rows())


def xlsx_bytes(rows: list[list[object]], *, title: str | None = None) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    if title is not None:
        sheet.append([title])
    sheet.append(HEADER.split("\t"))
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def numeric_cells(cells: list[str]) -> list[object]:
    """Like a spreadsheet: 序号 and prices as numbers (some int, some float)."""
    seq = int(cells[0])
    prices: list[object] = [int(c) if seq % 2 else float(c) for c in cells[5:]]
    return [seq, *cells[1:5], *prices]


def test_r_cat_1_xlsx_built_in_memory_gives_the_same_rows() -> None:
    data = xlsx_bytes([numeric_cells(cells) for cells in shared_cells()])
    assert_same_rows(parse_xlsx(data), expected_rows())


def test_r_cat_1_xlsx_with_a_title_row_above_the_header_and_text_cells() -> None:
    data = xlsx_bytes(shared_cells(), title="国家组织冠脉支架集中带量接续采购中选结果")
    assert_same_rows(parse_xlsx(data), expected_rows())


# --- rejections: every bad row, by row number and reason --------------------------------------


def test_r_cat_2_bad_certificate_is_rejected_with_its_row_number() -> None:
    rows = shared_cells()
    rows[2][2] = "国械注准 2016313117"  # row 3: one digit short
    assert rejected_notice(notice_table(rows)) == [
        RowError(
            3,
            "registration_no",
            "registration certificate '国械注准2016313117' must be 国械注 + 准/进/许 + 11 digits",
        )
    ]


@pytest.mark.parametrize(
    "certificate",
    ["国械注册20163131174", "国械备20163131174", "国械注准201631311745", "国食药监械20163131174"],
)
def test_r_cat_2_certificate_kind_and_length_are_checked(certificate: str) -> None:
    rows = shared_cells()
    rows[2][2] = certificate
    [error] = rejected_notice(notice_table(rows))
    assert (error.row, error.field) == (3, "registration_no")


def test_r_cat_2_hong_kong_macao_taiwan_certificate_is_accepted() -> None:
    rows = shared_cells()
    rows[2][2] = "国械注许20163131174"
    assert parse_notice_text(notice_table(rows))[2].registration_no == "国械注许20163131174"


def test_r_cat_3_prices_off_by_one_fen_are_rejected() -> None:
    rows = shared_cells()
    rows[3][7] = "796.01"  # row 4: 795 + 1 = 796
    assert rejected_notice(notice_table(rows)) == [
        RowError(
            4,
            "winning_price",
            "winning price 796.01 does not equal product price 795.00 + service price 1.00 "
            "= 796.00",
        )
    ]


def test_r_cat_3_three_decimal_price_is_rejected_not_rounded() -> None:
    rows = shared_cells()
    rows[4][5] = "750.005"  # row 5
    rows[4][7] = "800.005"
    assert rejected_notice(notice_table(rows)) == [
        RowError(
            5,
            "product_price",
            "product_price (产品价格(元)) '750.005' has more than 2 decimal places "
            "(prices are whole fen)",
        ),
        RowError(
            5,
            "winning_price",
            "winning_price (中选价格(元)) '800.005' has more than 2 decimal places "
            "(prices are whole fen)",
        ),
    ]


def test_r_cat_3_trailing_zeros_are_whole_fen() -> None:
    rows = shared_cells()
    rows[4][5] = "750.000"
    assert parse_notice_text(notice_table(rows))[4].product_price == Decimal("750.00")


def test_r_cat_3_non_numeric_price_is_rejected() -> None:
    rows = shared_cells()
    rows[1][6] = "五十"  # row 2
    assert rejected_notice(notice_table(rows)) == [
        RowError(2, "service_price", "service_price (伴随服务价格(元)) '五十' is not a number")
    ]


@pytest.mark.parametrize("value", ["NaN", "Infinity", "1e3", "50元", "5 0", ""])
def test_r_cat_3_number_like_strings_are_not_prices(value: str) -> None:
    rows = shared_cells()
    rows[1][6] = value
    [error] = rejected_notice(notice_table(rows))
    assert (error.row, error.field) == (2, "service_price")


def test_r_cat_3_negative_price_is_rejected() -> None:
    rows = shared_cells()
    rows[1][5], rows[1][6] = "780", "-1"  # 780 + -1 = 779 still adds up
    assert rejected_notice(notice_table(rows)) == [
        RowError(2, "service_price", "service_price (伴随服务价格(元)) '-1' must not be negative")
    ]


def test_r_cat_4_duplicate_certificate_reports_every_later_occurrence_naming_the_first() -> None:
    rows = shared_cells()
    rows[8][2] = rows[6][2]  # row 9 repeats row 7's certificate
    rows[11][2] = rows[6][2]  # and so does row 12
    reason = (
        "registration certificate 国械注准20173131407 is already listed in row 7; "
        "a certificate can win only once per program"
    )
    assert rejected_notice(notice_table(rows)) == [
        RowError(9, "registration_no", reason),
        RowError(12, "registration_no", reason),
    ]


def test_r_cat_4_same_enterprise_may_win_several_products() -> None:
    rows = parse_notice_text(seed_text())
    keys = [enterprise_key(row.declaring_enterprise) for row in rows]
    assert keys.count(enterprise_key("上海微创医疗器械(集团)有限公司")) == 3


def test_r_cat_1_missing_cell_is_rejected() -> None:
    rows = shared_cells()
    rows[5][4] = ""  # row 6, registrant
    assert rejected_notice(notice_table(rows)) == [
        RowError(6, "registrant", "registrant (医疗器械注册人) is missing")
    ]


def test_r_cat_1_duplicate_seq_is_rejected() -> None:
    rows = shared_cells()
    rows[3][0] = "3"
    assert rejected_notice(notice_table(rows)) == [
        RowError(3, "seq", "序号 3 is used twice: data rows 3 and 4")
    ]


def test_r_cat_1_unreadable_seq_uses_the_data_row_position() -> None:
    rows = shared_cells()
    rows[3][0] = "4a"
    assert rejected_notice(notice_table(rows)) == [
        RowError(
            4,
            "seq",
            "seq (序号) '4a' is not a positive whole number (data row 4; errors use that position)",
        )
    ]


def test_r_cat_1_short_row_is_rejected_with_its_line() -> None:
    rows = shared_cells()
    del rows[6][4]  # row 7 lost a cell (7 cells)
    assert rejected_notice(notice_table(rows)) == [
        RowError(7, None, "line 8: expected 8 tab-separated cells, found 7")
    ]


def test_r_cat_1_to_4_several_bad_rows_are_all_reported_and_nothing_is_imported() -> None:
    rows = shared_cells()
    rows[0][2] = "国械注准2016313230"  # 1: certificate
    rows[2][7] = "795.01"  # 3: sum
    rows[4][3] = " "  # 5: missing enterprise
    rows[7][5] = "abc"  # 8: not a number
    rows[10][2] = rows[1][2]  # 11: duplicate of row 2
    rows[12][6] = "50.001"  # 13: three decimals
    errors = rejected_notice(notice_table(rows))
    assert [(e.row, e.field) for e in errors] == [
        (1, "registration_no"),
        (3, "winning_price"),
        (5, "declaring_enterprise"),
        (8, "product_price"),
        (11, "registration_no"),
        (13, "service_price"),
    ]
    assert errors[0].reason == (
        "registration certificate '国械注准2016313230' must be 国械注 + 准/进/许 + 11 digits"
    )
    assert "already listed in row 2" in errors[4].reason


def test_r_cat_1_csv_rejections_report_every_bad_row() -> None:
    lines = [",".join(FIELDS)]
    for cells in shared_cells():
        if cells[0] == "2":
            cells[7] = "780"
        if cells[0] == "10":
            cells[2] = "国械注进 2015313060"
        lines.append(",".join(cells))
    with pytest.raises(TableRejected) as info:
        parse_csv("\n".join(lines))
    assert [(e.row, e.field) for e in info.value.errors] == [
        (2, "winning_price"),
        (10, "registration_no"),
    ]


def test_r_cat_1_csv_without_a_column_or_not_utf8_is_rejected_as_a_table() -> None:
    with pytest.raises(TableRejected) as info:
        parse_csv("seq,product_name,registration_no,declaring_enterprise,registrant\n1,a,b,c,d\n")
    assert info.value.errors == [
        RowError(
            0,
            None,
            "header lacks column(s) product_price (产品价格(元)), "
            "service_price (伴随服务价格(元)), winning_price (中选价格(元))",
        )
    ]
    with pytest.raises(TableRejected) as info:
        parse_csv("序号,产品名称\n".encode("gbk"))
    assert info.value.errors[0].row == 0
    assert "not UTF-8" in info.value.errors[0].reason


def test_r_cat_3_xlsx_float_that_is_not_whole_fen_is_rejected() -> None:
    rows = [numeric_cells(cells) for cells in shared_cells()]
    rows[2][5], rows[2][7] = 746.999, 794.999  # row 3: 3 decimals
    rows[3][6] = 1.0000001  # row 4: a float that is not whole fen (openpyxl writes 15 digits)
    with pytest.raises(TableRejected) as info:
        parse_xlsx(xlsx_bytes(rows))
    assert [(e.row, e.field) for e in info.value.errors] == [
        (3, "product_price"),
        (3, "winning_price"),
        (4, "service_price"),
    ]
    assert "'1.0000001' has more than 2 decimal places" in info.value.errors[2].reason


def test_r_cat_3_xlsx_two_decimal_floats_are_exact() -> None:
    rows = [numeric_cells(cells) for cells in shared_cells()]
    rows[0][5], rows[0][6], rows[0][7] = 679.9, 50.1, 730  # 679.90 + 50.10 = 730.00
    parsed = parse_xlsx(xlsx_bytes(rows))
    assert (parsed[0].product_price, parsed[0].service_price) == (
        Decimal("679.90"),
        Decimal("50.10"),
    )


def test_r_cat_1_not_an_xlsx_file_is_rejected() -> None:
    with pytest.raises(TableRejected) as info:
        parse_xlsx(b"PK\x03\x04 not really a zip")
    assert info.value.errors[0].row == 0


def test_r_cat_1_text_without_a_table_is_rejected() -> None:
    with pytest.raises(TableRejected) as info:
        parse_notice_text("重庆市医疗保障局办公室\n抄送：市卫生健康委。\n")
    assert info.value.errors == [
        RowError(0, None, "no attachment table: no header line starting with 序号")
    ]
    with pytest.raises(TableRejected) as info:
        parse_notice_text(HEADER + "\n\n抄送：市卫生健康委。\n")
    assert info.value.errors == [RowError(0, None, "the table has no rows")]


# --- wrapping: continuation lines (R-CAT-1) ---------------------------------------------------

ROW_8 = (
    "8\t药物洗脱支架系统\t国械注准 20223131270\t赛诺医疗科学技术 股份有限公司\t"
    "赛诺医疗科学技术 股份有限公司\t789\t50\t839"
)
ROW_10 = (
    "10\t铂铬合金依维莫司洗脱 冠状动脉支架系统\t国械注进 20153130608\t"
    "波科国际医疗贸易 （上海）有限公司\tBoston Scientific Corporation\t798\t48\t846"
)


def rows_1_to_7() -> list[str]:
    """The seed's lines of rows 1 to 7, as published."""
    return [line for line in seed_text().splitlines()
            if line.split("\t", 1)[0] in {str(n) for n in range(1, 8)} and "\t" in line]


def table_with_row_9(row_9: str) -> str:
    """Rows 1-10 of the seed, row 9 written by each test, then the notice goes on."""
    return "\n".join(
        [HEADER, *rows_1_to_7(), ROW_8, row_9, ROW_10, "", "抄送：市卫生健康委。"]) + "\n"


def expected_1_to_10() -> list[WinningRow]:
    return [row for row in expected_rows() if row.seq <= 10]


def test_r_cat_1_cell_wrapped_onto_continuation_lines_mid_row() -> None:
    row_9 = (
        "9\t钴铬合金生物可降解涂\n"
        "层雷帕霉素洗脱冠脉支\n"
        "架系统\t国械注准\n"
        "20223130495\t山东吉威医疗制品\n"
        "有限公司\t山东吉威医疗制品 有限公司\t795\t50\t845"
    )
    assert parse_notice_text(table_with_row_9(row_9)) == expected_1_to_10()


def test_r_cat_1_latin_words_wrapped_onto_a_continuation_line_keep_their_space() -> None:
    text = table_with_row_9(
        "9\t钴铬合金生物可降解涂层雷帕霉素洗脱冠脉支架系统\t国械注准 20223130495\t"
        "山东吉威医疗制品有限公司\tShandong JW\nMedical Systems\t795\t50\t845"
    )
    assert parse_notice_text(text)[8].registrant == "Shandong JW Medical Systems"


def test_r_cat_1_continuation_lines_aligned_by_column() -> None:
    row_9 = (
        "9\t钴铬合金生物可降解涂\t国械注准 20223130495\t"
        "山东吉威医疗制品\t山东吉威医疗制品\t795\t50\t845\n"
        "\t层雷帕霉素洗脱冠脉支\t\t有限公司\t有限公司\n"
        "\t架系统"
    )
    assert parse_notice_text(table_with_row_9(row_9)) == expected_1_to_10()


def test_r_cat_1_line_break_on_a_cell_boundary() -> None:
    row_9 = (
        "9\t钴铬合金生物可降解涂层雷帕霉素洗脱冠脉支架系统\n"
        "国械注准 20223130495\t山东吉威医疗制品有限公司\t山东吉威医疗制品有限公司\t795\t50\t845"
    )
    assert parse_notice_text(table_with_row_9(row_9)) == expected_1_to_10()


def test_r_cat_1_header_repeated_after_a_page_break_is_skipped() -> None:
    row_9 = (
        "\n"
        + HEADER
        + "\n9\t钴铬合金生物可降解涂层雷帕霉素洗脱冠脉支架系统\t国械注准 20223130495\t"
        "山东吉威医疗制品有限公司\t山东吉威医疗制品有限公司\t795\t50\t845"
    )
    assert parse_notice_text(table_with_row_9(row_9)) == expected_1_to_10()


def test_r_cat_1_page_number_between_rows_is_skipped_and_listed() -> None:
    row_9 = (
        "- 3 -\n\n9\t钴铬合金生物可降解涂层雷帕霉素洗脱冠脉支架系统\t国械注准 20223130495\t"
        "山东吉威医疗制品有限公司\t山东吉威医疗制品有限公司\t795\t50\t845"
    )
    table = read_notice_text(table_with_row_9(row_9))
    assert table.rows == expected_1_to_10()
    assert table.skipped == [SkippedLine(10, "- 3 -", "a page number")]


def test_r_cat_1_table_ends_at_the_first_line_that_is_not_a_row() -> None:
    text = seed_text() + "\n附件2\n\n序号\t其他\n1\t无关\n"
    assert len(parse_notice_text(text)) == 14


# --- normalisation and enterprise matching ----------------------------------------------------


@pytest.mark.parametrize(
    ("published", "normalised"),
    [
        (
            "钴铬合金生物可降解涂 层雷帕霉素洗脱冠脉支 架系统",
            "钴铬合金生物可降解涂层雷帕霉素洗脱冠脉支架系统",
        ),
        ("药物涂层支架系统 （雷帕霉素）", "药物涂层支架系统（雷帕霉素）"),
        ("波科国际医疗贸易 （上海）有限公司", "波科国际医疗贸易（上海）有限公司"),
        ("易生科技 (北京) 有限公司", "易生科技(北京)有限公司"),
        ("Boston Scientific Corporation", "Boston Scientific Corporation"),
        ("  Boston   Scientific\n Corporation ", "Boston Scientific Corporation"),
        ("Medtronic (Shanghai) Co., Ltd.", "Medtronic (Shanghai) Co., Ltd."),
        ("Firehawk 冠脉支架", "Firehawk 冠脉支架"),
        ("山东吉威医疗制品\u3000有限公司", "山东吉威医疗制品有限公司"),
    ],
)
def test_r_cat_1_normalise_text(published: str, normalised: str) -> None:
    assert normalise_text(published) == normalised


def test_enterprise_key_folds_bracket_width_whitespace_and_case() -> None:
    assert enterprise_key("美敦力（上海）管理 有限公司") == enterprise_key(
        "美敦力(上海)管理有限公司"
    )
    assert enterprise_key("Boston Scientific Corporation") == enterprise_key(
        "boston scientific  CORPORATION"
    )
    assert enterprise_key("乐普（北京）医疗器械股份有限公司") != enterprise_key(
        "易生科技(北京)有限公司"
    )


# --- validate() on built rows -----------------------------------------------------------------


def test_r_cat_2_to_4_validate_accepts_the_shared_rows_and_names_every_problem() -> None:
    rows = expected_rows()
    assert validate(rows) == []
    bad = [
        *rows[:2],
        WinningRow(3, "药物支架系统", "国械注准 20163131174", "a", "b", CENT, CENT, CENT * 2),
        WinningRow(4, "药物支架系统", rows[0].registration_no, "a", "b", CENT, CENT, CENT),
    ]
    assert [(e.row, e.field) for e in validate(bad)] == [
        (3, "registration_no"),  # validate does not normalise: the space is an error
        (4, "winning_price"),
        (4, "registration_no"),
    ]


# --- size limit and the synthetic generator ---------------------------------------------------


def test_r_cat_1_a_table_over_50000_rows_is_refused() -> None:
    assert MAX_ROWS == 50_000
    refusal = [
        RowError(0, None, "the table has more than 50000 rows; split it into smaller tables")
    ]
    with pytest.raises(TableRejected) as info:
        parse_notice_text(synthetic_table(50_001))
    assert info.value.errors == refusal
    lines = [",".join(FIELDS)] + [
        f"{i},支架,国械注准{2016_0000000 + i},企业,企业,1,0,1" for i in range(1, 50_002)
    ]
    with pytest.raises(TableRejected) as info:
        parse_csv("\n".join(lines))
    assert info.value.errors == refusal


def test_r_cat_1_row_limit_boundary() -> None:
    table = synthetic_table(10)
    assert len(parse_notice_text(table, max_rows=10)) == 10
    with pytest.raises(TableRejected):
        parse_notice_text(table, max_rows=9)


def test_synthetic_table_imports_to_its_rows() -> None:
    table = synthetic_table(500, seed=7)
    rows = synthetic_rows(500, seed=7)
    assert parse_notice_text(table) == rows
    assert len({row.registration_no for row in rows}) == 500
    assert "国械注准 " in table or "国械注进 " in table
    assert "\n\n" in table  # blank lines between some rows
    assert any(" " in line.split("\t")[1] for line in table.splitlines()[1:] if line)
    assert synthetic_table(50, seed=1) == synthetic_table(50, seed=1)
    assert synthetic_table(50, seed=1) != synthetic_table(50, seed=2)


ROW_9 = (
    "9\t钴铬合金生物可降解涂层雷帕霉素洗脱冠脉支架系统\t国械注准 20223130495\t"
    "山东吉威医疗制品有限公司\t山东吉威医疗制品有限公司\t795\t50\t845"
)


def test_r_cat_1_seq_alone_on_its_line_starts_the_row() -> None:
    assert parse_notice_text(table_with_row_9(ROW_9.replace("\t", "\n", 1))) == expected_1_to_10()


def test_r_cat_1_last_row_wrapped_at_a_cell_boundary_before_the_notice_goes_on() -> None:
    text = "\n".join(
        [HEADER, *rows_1_to_7(), ROW_8, ROW_9, ROW_10.replace("\t846", "\n846"), "",
         "抄送：市卫生健康委。"]
        + ["重庆市医疗保障局办公室", "", "2023年1月18日印发"]
    )
    assert parse_notice_text(text) == expected_1_to_10()


def test_r_cat_1_a_row_that_lost_its_seq_after_a_page_number_is_refused() -> None:
    row_9_without_seq = ROW_9.removeprefix("9")
    text = "\n".join([HEADER, *rows_1_to_7(), ROW_8, "- 2 -", row_9_without_seq, ROW_10])
    errors = rejected_notice(text)
    assert {e.row for e in errors} == {8}  # its cells were taken as row 8's, which then fails
    assert {e.field for e in errors} >= {"registration_no", "winning_price"}


def test_r_cat_1_next_seq_glued_to_its_name_is_not_swallowed_by_a_short_row() -> None:
    text = "\n".join([HEADER, ROW_8, "9\t钴铬合金生物可降解涂层", ROW_10.replace("\t", "", 1)])
    errors = rejected_notice(text)
    assert errors[0] == RowError(9, None, "line 3: expected 8 tab-separated cells, found 2")
    assert {e.row for e in errors[1:]} == {3}  # the glued row, by position: 序号 unreadable


def test_table_rejected_keeps_its_errors_through_pickle() -> None:
    import pickle

    error = TableRejected([RowError(3, "seq", "x"), RowError(0, None, "y")])
    copy = pickle.loads(pickle.dumps(error))
    assert copy.errors == error.errors
    assert str(copy) == str(error)


# --- lines between rows that are not rows (issue #12, item 6; R-CAT-1) -------------------------


def seed_with(after: dict[int, list[str]], *, drop: int | None = None,
              replace: dict[int, str] | None = None) -> tuple[str, dict[str, int]]:
    """The seed's text with lines inserted after rows (by 序号), a row dropped or replaced;
    and the line number of every inserted line (by its text) and of every row (by 序号)."""
    out: list[str] = []
    where: dict[str, int] = {}
    for line in seed_text().splitlines():
        seq = line.split("\t", 1)[0]
        number = int(seq) if "\t" in line and seq.isdigit() else None
        if number is not None and number == drop:
            continue
        if number is not None and replace and number in replace:
            line = replace[number]
        out.append(line)
        if number is not None:
            where[str(number)] = len(out)
            for extra in after.get(number, []):
                out.append(extra)
                where.setdefault(extra, len(out))
    return "\n".join(out) + "\n", where


PAGE_BREAK_NOISE = {
    3: ["", "— 3 —", ""],
    5: ["第 2 页 共 3 页", HEADER],
    8: ["重庆市医疗保障局办公室", "", "2023 年 1 月 16 日", "(此件公开发布)"],
    11: ["- 4 -", "", "", "抄送：市卫生健康委，市财政局，市市场监管局，市医保监测中心。",
         "2023年1月18日印发"],
    12: ["27", "Page 4 of 5"],
}


def test_r_cat_1_noise_between_rows_is_skipped_listed_and_every_row_imported() -> None:
    text, where = seed_with(PAGE_BREAK_NOISE)
    table = read_notice_text(text)
    assert table.rows == expected_rows()  # all 14
    noise = [line for lines in PAGE_BREAK_NOISE.values() for line in lines if line]
    assert [(s.line, s.text) for s in table.skipped] == [
        (where[line] if line != HEADER else where["5"] + 2, line) for line in noise]
    reasons = {s.text: s.reason for s in table.skipped}
    assert reasons["— 3 —"] == reasons["第 2 页 共 3 页"] == reasons["27"] == "a page number"
    assert reasons[HEADER] == "the table's header, repeated"
    assert reasons["重庆市医疗保障局办公室"] == "not a row of the table"
    assert reasons["2023 年 1 月 16 日"] == "not a row of the table"  # a date is not a row


def test_r_cat_1_closing_lines_after_the_last_row_are_not_listed() -> None:
    table = read_notice_text(seed_text())
    assert (len(table.rows), table.skipped) == (14, [])


def test_r_cat_1_a_missing_seq_refuses_the_table_naming_the_gap() -> None:
    text, where = seed_with({}, drop=8)
    assert rejected_notice(text) == [RowError(
        8, "seq",
        f"序号 8 missing between row 7 (line {where['7']}) and row 9 (line {where['9']}): "
        "the table has rows 1-7 and 9-14; a row of the table is left out, so nothing is "
        "imported")]


def test_r_cat_1_a_missing_seq_with_noise_where_it_was_is_still_refused() -> None:
    text, _ = seed_with({7: ["— 3 —", "重庆市医疗保障局办公室"]}, drop=8)
    [error] = rejected_notice(text)
    assert (error.row, error.field) == (8, "seq")


def test_r_cat_1_a_line_that_looks_like_a_broken_row_is_refused_naming_it() -> None:
    spaced = ROW_9.replace("\t", " ")  # the row's tabs lost: a 序号 and a name, no cells
    text, where = seed_with({}, replace={9: spaced})
    [error] = rejected_notice(text)
    assert error.row == 9
    assert error.reason.startswith(f"line {where['9']} '9 钴铬合金")
    assert "looks like a row of the table" in error.reason
    glued, where = seed_with({8: ["9钴铬合金生物可降解涂层雷帕霉素洗脱冠脉支架系统"]}, drop=9)
    errors = rejected_notice(glued)
    assert errors[0].row == 9
    assert errors[0].reason.startswith(
        f"line {where['9钴铬合金生物可降解涂层雷帕霉素洗脱冠脉支架系统']} ")


def test_r_cat_1_a_broken_row_after_the_last_row_is_refused_not_dropped() -> None:
    text, where = seed_with({14: ["", "15 冠脉支架系统 国械注准 20223131011 某公司 某公司 1 1 2"]})
    [error] = rejected_notice(text)
    assert error.row == 15
    assert error.reason.startswith(f"line {where['14'] + 2} '15 冠脉支架系统")


def test_r_cat_1_csv_and_json_rows_with_a_gap_are_refused_too() -> None:
    lines = [line for line in WINNING_CSV.read_text(encoding="utf-8").splitlines()
             if not line.startswith("8,")]
    with pytest.raises(TableRejected) as info:
        parse_csv("\n".join(lines))
    assert [(e.row, e.field) for e in info.value.errors] == [(8, "seq")]
    assert "the table has rows 1-7 and 9-14" in info.value.errors[0].reason
    rows = [row for row in expected_rows() if row.seq not in (1, 2)]
    assert [(e.row, e.field) for e in validate(rows)] == [(1, "seq")]
    assert validate(rows)[0].reason.startswith("序号 1-2 missing before row 3")


def test_r_cat_1_a_page_number_then_the_header_again_does_not_cut_the_table_short() -> None:
    """The bug of issue #12 item 6: this answered 201 with rows 1-5 and lost 6-14 silently."""
    text, where = seed_with({5: ["— 3 —", HEADER]})
    table = read_notice_text(text)
    assert table.rows == expected_rows()
    assert [s.line for s in table.skipped] == [where["5"] + 1, where["5"] + 2]


def test_r_cat_1_a_page_number_equal_to_the_next_seq_is_still_a_page_number() -> None:
    text, where = seed_with({5: ["", "6", ""]})
    table = read_notice_text(text)
    assert table.rows == expected_rows()
    assert table.skipped == [SkippedLine(where["5"] + 2, "6", "a page number")]
