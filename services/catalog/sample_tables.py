"""Synthetic attachment tables in the notice's own format, for tests and benchmarks.

``synthetic_table(n)`` is a valid n-row table laid out like the Chongqing notice's attachment
(tab separated, header ``产品价格 (元)`` etc., blank lines between some rows, spaces left by
wrapping inside Chinese names, ``国械注准 2016...`` certificates); ``synthetic_rows(n)`` is what
a correct import of it gives. Same ``n`` and ``seed``, same table, every time.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from decimal import Decimal

from services.catalog.importing import CENT, WinningRow

HEADER = "\t".join(
    (
        "序号",
        "产品名称",
        "注册证编号",
        "申报企业",
        "医疗器械注册人",
        "产品价格 (元)",
        "伴随服务价格 (元)",
        "中选价格(元)",
    )
)

_PRODUCTS = (
    "冠脉雷帕霉素洗脱钴基合金支架系统",
    "药物洗脱支架系统",
    "药物支架系统",
    "药物洗脱冠脉支架系统",
    "药物涂层支架系统（雷帕霉素）",
    "钴铬合金生物可降解涂层雷帕霉素洗脱冠脉支架系统",
    "铂铬合金依维莫司洗脱冠状动脉支架系统",
    "钴基合金雷帕霉素洗脱支架系统",
    "冠状动脉钴铬合金可降解涂层雷帕霉素药物洗脱支架系统",
    "钴铬合金依维莫司洗脱冠脉支架系统",
    "冠脉球囊扩张导管",
    "冠脉导引导丝",
)

# (declaring enterprise, registrant, certificate kind)
_ENTERPRISES = (
    ("上海微创医疗器械(集团)有限公司", "上海微创医疗器械(集团)有限公司", "准"),
    ("赛诺医疗科学技术股份有限公司", "赛诺医疗科学技术股份有限公司", "准"),
    ("深圳市金瑞凯利生物科技有限公司", "深圳市金瑞凯利生物科技有限公司", "准"),
    ("易生科技(北京)有限公司", "易生科技(北京)有限公司", "准"),
    ("美敦力（上海）管理有限公司", "Medtronic Inc.", "进"),
    ("山东吉威医疗制品有限公司", "山东吉威医疗制品有限公司", "准"),
    ("波科国际医疗贸易（上海）有限公司", "Boston Scientific Corporation", "进"),
    ("乐普（北京）医疗器械股份有限公司", "乐普（北京）医疗器械股份有限公司", "准"),
    ("万瑞飞鸿(北京)医疗器械有限公司", "万瑞飞鸿(北京)医疗器械有限公司", "准"),
    ("雅培医疗器械贸易(上海)有限公司", "Abbott Vascular", "进"),
    ("香港某某医疗器械有限公司", "香港某某医疗器械有限公司", "许"),
)


def _wrappable(left: str, right: str) -> bool:
    """A space between these two characters is one the importer removes (R-CAT-1)."""

    def cjk(char: str) -> bool:
        return "\u4e00" <= char <= "\u9fff" or char in "（）"

    return cjk(left) and cjk(right)


def _wrap(text: str, rng: random.Random) -> str:
    """Insert the spaces a narrow PDF column leaves behind, at 0-2 places."""
    places = [i for i in range(1, len(text)) if _wrappable(text[i - 1], text[i])]
    chosen = sorted(rng.sample(places, k=min(len(places), rng.choice((0, 0, 1, 2)))))
    for offset, place in enumerate(chosen):
        at = place + offset
        text = f"{text[:at]} {text[at:]}"
    return text


def _money(amount: Decimal) -> str:
    return str(amount.to_integral_value()) if amount == amount.to_integral_value() else f"{amount}"


def _generate(n: int, seed: int) -> Iterator[tuple[WinningRow, str]]:
    if n < 0:
        raise ValueError("n must not be negative")
    if n > 9_999_999:
        raise ValueError("at most 9,999,999 rows: certificates have 7 serial digits")
    rng = random.Random(seed)
    for index in range(n):
        enterprise, registrant, kind = rng.choice(_ENTERPRISES)
        product = rng.choice(_PRODUCTS)
        year = 2014 + index % 10
        certificate = f"国械注{kind}{year}{index:07d}"  # the serial makes it unique
        product_price = Decimal(rng.randint(100, 2000)) + rng.choice(
            (Decimal(0), Decimal(0), Decimal(0), Decimal("0.5"), Decimal("0.99"))
        )
        service_price = Decimal(rng.choice((0, 1, 20, 48, 50, 80)))
        winning_price = product_price + service_price
        row = WinningRow(
            seq=index + 1,
            product_name=product,
            registration_no=certificate,
            declaring_enterprise=enterprise,
            registrant=registrant,
            product_price=product_price.quantize(CENT),
            service_price=service_price.quantize(CENT),
            winning_price=winning_price.quantize(CENT),
        )
        line = "\t".join(
            (
                str(index + 1),
                _wrap(product, rng),
                f"国械注{kind} {year}{index:07d}",
                _wrap(enterprise, rng),
                _wrap(registrant, rng),
                _money(product_price),
                _money(service_price),
                _money(winning_price),
            )
        )
        if rng.random() < 0.15:
            line = "\n" + line  # the blank lines the notice has between some rows
        yield row, line


def synthetic_table(n: int, *, seed: int = 0) -> str:
    """A valid n-row table in the notice's tab-separated format, with wrapping noise."""
    return "\n".join([HEADER, *(line for _, line in _generate(n, seed))]) + "\n"


def synthetic_rows(n: int, *, seed: int = 0) -> list[WinningRow]:
    """What importing ``synthetic_table(n, seed=seed)`` must give."""
    return [row for row, _ in _generate(n, seed)]
