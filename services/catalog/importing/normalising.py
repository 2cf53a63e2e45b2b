"""Normalising what the publishers wrote (R-CAT-1): the table's columns and their names, text
cells (whitespace, spaces left by wrapping inside Chinese text) and header cells."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from services.runtime import texts

FIELDS: tuple[str, ...] = (
    "seq",
    "product_name",
    "registration_no",
    "declaring_enterprise",
    "registrant",
    "product_price",
    "service_price",
    "winning_price",
)

LABELS: dict[str, str] = {
    "seq": "序号",
    "product_name": "产品名称",
    "registration_no": "注册证编号",
    "declaring_enterprise": "申报企业",
    "registrant": "医疗器械注册人",
    "product_price": "产品价格(元)",
    "service_price": "伴随服务价格(元)",
    "winning_price": "中选价格(元)",
}


_CJK = (
    "\u2e80-\u2fdf"  # radicals
    "\u3001-\u303f"  # CJK punctuation (not U+3000, the ideographic space)
    "\u3040-\u31ff"  # kana, bopomofo, strokes
    "\u3400-\u4dbf"  # extension A
    "\u4e00-\u9fff"  # unified ideographs
    "\uf900-\ufaff"  # compatibility ideographs
    "\ufe30-\ufe4f"  # compatibility forms
    "\uff01-\uffef"  # full-width / half-width forms, including （ ）
    "\U00020000-\U0003ffff"  # extensions B..
)
_BRACKETS = r"()\[\]"
_WRAP_SPACE = re.compile(
    rf"(?<=[{_CJK}]) (?=[{_CJK}{_BRACKETS}])|(?<=[{_CJK}{_BRACKETS}]) (?=[{_CJK}])"
)


def normalise_text(value: str) -> str:
    """Collapse whitespace and drop the spaces that wrapping left inside Chinese text."""
    collapsed = " ".join(value.split())
    if " " not in collapsed:
        return collapsed
    return _WRAP_SPACE.sub("", collapsed)


def header_key(value: object) -> str:
    if value is None:
        return ""
    return "".join(unicodedata.normalize("NFKC", str(value)).split()).casefold()


_HEADER_FIELDS: dict[str, str] = {}
for _field, _label in LABELS.items():
    _HEADER_FIELDS[header_key(_field)] = _field
    _HEADER_FIELDS[header_key(_label)] = _field
    _HEADER_FIELDS[header_key(_label.removesuffix("(元)"))] = _field
SEQ_HEADERS = frozenset(k for k, f in _HEADER_FIELDS.items() if f == "seq")


def map_header(cells: Sequence[object]) -> tuple[dict[str, int], list[str]]:
    """Column index of each field, and the problems (missing or repeated columns)."""
    columns: dict[str, int] = {}
    problems: list[str] = []
    for index, cell in enumerate(cells):
        name = _HEADER_FIELDS.get(header_key(cell))
        if name is None:
            continue
        if name in columns:
            problems.append(texts.text("column {column} appears twice",
                                       column=f"{name} ({LABELS[name]})"))
        else:
            columns[name] = index
    missing = [f"{f} ({LABELS[f]})" for f in FIELDS if f not in columns]
    if missing:
        problems.append(texts.text("header lacks column(s) {missing}", missing=", ".join(missing)))
    return columns, problems
