"""A synthetic province, the same for the same seed: institutions in cities and counties of
three levels, the winning products (the 14 stents of the Chongqing table, and generated ones
for larger runs), distributors and their assignments, agreement volumes with a realistic
spread, and each institution's habits (its pace against the even line, R-AGR-6; whether it
pays late, R-PAY-1; how its distributor delivers)."""

from __future__ import annotations

import csv
import math
import random
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from contracts.identity import enterprise_id, listing_id
from services.catalog.importing import WinningRow
from services.runtime.clock import SHANGHAI

STENTS = Path(__file__).with_name("stents.csv")
"""The 14 winning stents of 渝医保办〔2023〕3号 (shared/data/chongqing-stents-2023-winning.csv)."""
PRESET = "chongqing-stents-2023"
EXECUTION_START = datetime(2026, 1, 31, tzinfo=SHANGHAI)

CITIES = (
    ("渝中区", ("解放碑", "大坪", "上清寺")), ("江北区", ("观音桥", "石马河", "寸滩")),
    ("沙坪坝区", ("磁器口", "小龙坎", "覃家岗")), ("九龙坡区", ("杨家坪", "石桥铺", "铜罐驿")),
    ("南岸区", ("南坪", "弹子石", "涂山")), ("万州区", ("龙都", "高笋塘", "分水")),
    ("涪陵区", ("敦仁", "李渡", "白涛")), ("永川区", ("中山路", "胜利路", "卫星湖")),
    ("綦江区", ("古南", "文龙", "三江")), ("黔江区", ("城东", "城西", "正阳")),
)
COUNTIES = ("城口县", "丰都县", "垫江县", "忠县", "云阳县", "奉节县", "巫山县", "巫溪县",
            "石柱县", "秀山县", "酉阳县", "彭水县")
LEVELS = (  # level, share of institutions, yearly stents (median), products bought, orders/yr
    ("tertiary", 0.06, 900, (4, 8), 12),
    ("secondary", 0.30, 90, (2, 4), 4),
    ("primary", 0.64, 8, (1, 2), 2),
)
TYPES = (("public", 0.86), ("private", 0.11), ("military", 0.03))


@dataclass(frozen=True)
class Product(WinningRow):
    """A winning product of the province's program: a row of the notice's table, as catalog
    reads it."""

    @property
    def enterprise_id(self) -> str:
        return enterprise_id(self.declaring_enterprise)

    def row(self) -> dict[str, object]:
        return {"seq": self.seq, "product_name": self.product_name,
                "registration_no": self.registration_no,
                "declaring_enterprise": self.declaring_enterprise,
                "registrant": self.registrant, "product_price": str(self.product_price),
                "service_price": str(self.service_price),
                "winning_price": str(self.winning_price)}


@dataclass(frozen=True)
class Institution:
    institution_id: str
    name: str
    place: str
    level: str
    institution_type: str
    pace: float
    """Ordered units against the even line: 1.0 on it, < 1 behind, > 1 ahead (R-AGR-6)."""
    orders_per_year: int
    late_payer: bool
    """Pays some payables after the end of the month after acceptance (R-PAY-1)."""
    renewal_ratio: float
    """Next year's demand as a share of this year's agreement (R-AGR-2 refuses below 90 %)."""


@dataclass(frozen=True)
class Distributor:
    distributor_id: str
    name: str
    late_share: float
    """The share of its deliveries that come late."""


@dataclass
class Province:
    seed: int
    program_id: str
    region: str
    agency: str
    execution_start: datetime
    institutions: list[Institution]
    products: list[Product]
    distributors: list[Distributor]
    assignments: dict[str, str]
    """registration_no -> distributor_id (the enterprise's regional distributor)."""
    backups: dict[str, str]
    """registration_no -> the distributor taking over when the first one is barred."""
    agreements: dict[tuple[str, str], int]
    """(institution_id, registration_no) -> agreement units of year 1."""
    barred: str
    """The distributor barred mid-year (R-SUP-4)."""
    rng_seed: int = field(default=0)

    def listing(self, registration_no: str) -> str:
        return listing_id(self.program_id, registration_no)

    def product(self, registration_no: str) -> Product:
        return self._by_reg[registration_no]

    def __post_init__(self) -> None:
        self._by_reg = {p.registration_no: p for p in self.products}

    def agreements_csv(self) -> str:
        types = {i.institution_id: i.institution_type for i in self.institutions}
        lines = ["institution_id,institution_type,enterprise_id,registration_no,units"]
        for (inst, reg), units in self.agreements.items():
            lines.append(f"{inst},{types[inst]},{self.product(reg).enterprise_id},{reg},{units}")
        return "\n".join(lines) + "\n"


def winning_stents() -> list[Product]:
    with STENTS.open(encoding="utf-8") as fh:
        return [Product(int(r["seq"]), r["product_name"], r["registration_no"],
                        r["declaring_enterprise"], r["registrant"],
                        Decimal(r["product_price"]).quantize(Decimal("0.01")),
                        Decimal(r["service_price"]).quantize(Decimal("0.01")),
                        Decimal(r["winning_price"]).quantize(Decimal("0.01")))
                for r in csv.DictReader(fh)]


def _generated_products(n: int, rng: random.Random, first_seq: int) -> list[Product]:
    """More winning products of the same enterprises, for a larger province."""
    from services.catalog.sample_tables import synthetic_rows

    rows = synthetic_rows(n, seed=rng.randrange(2**31))
    return [Product(first_seq + i, r.product_name, r.registration_no, r.declaring_enterprise,
                    r.registrant, r.product_price, r.service_price, r.winning_price)
            for i, r in enumerate(rows)]


def _choose(rng: random.Random, weighted: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([w[0] for w in weighted], [w[1] for w in weighted])[0]


def generate(seed: int, institutions: int = 2000, *, tag: str = "") -> Province:
    """The province of ``seed``: the same seed and size give the same province."""
    if institutions < 1:
        raise ValueError("a province needs at least one institution")
    rng = random.Random(seed)
    prefix = f"S{seed}{tag}"
    products = winning_stents()
    extra = max(0, institutions // 50 - len(products))
    products += _generated_products(extra, rng, len(products) + 1)
    n_dist = max(3, min(40, institutions // 60))
    distributors = [Distributor(f"{prefix}-D{i:03d}", f"模拟医药配送{i:03d}有限公司",
                                late_share=rng.choice((0.02, 0.05, 0.08, 0.15)))
                    for i in range(1, n_dist + 1)]
    assignments = {p.registration_no: rng.choice(distributors).distributor_id
                   for p in products}
    barred = max(distributors, key=lambda d: (sum(v == d.distributor_id
                                                  for v in assignments.values()),
                                              d.late_share)).distributor_id
    others = [d.distributor_id for d in distributors if d.distributor_id != barred]
    backups = {reg: rng.choice(others) for reg, dist in assignments.items() if dist == barred}

    places = [f"重庆市{c}{s}" for c, streets in CITIES for s in streets] + \
             [f"重庆市{c}" for c in COUNTIES]
    insts: list[Institution] = []
    agreements: dict[tuple[str, str], int] = {}
    weights = [1.0 / (k + 1) ** 0.8 for k in range(len(products))]  # a few products lead
    for n in range(1, institutions + 1):
        level, _share, median, (lo, hi), per_year = rng.choices(
            LEVELS, [lv[1] for lv in LEVELS])[0]
        place = rng.choice(places)
        roll = rng.random()
        pace = (rng.uniform(0.95, 1.05) if roll < 0.6 else
                rng.uniform(0.55, 0.85) if roll < 0.8 else rng.uniform(1.1, 1.3))
        inst = Institution(
            institution_id=f"{prefix}-H{n:05d}",
            name=f"{place}{'人民医院' if level != 'primary' else '社区卫生服务中心'}{n}",
            place=place, level=level, institution_type=_choose(rng, TYPES), pace=pace,
            orders_per_year=per_year, late_payer=rng.random() < 0.15,
            renewal_ratio=rng.uniform(0.7, 0.89) if rng.random() < 0.1 else
            rng.uniform(1.0, 1.2))
        insts.append(inst)
        total = max(1, round(rng.lognormvariate(math.log(median), 0.6)))
        k = min(len(products), rng.randint(lo, hi))
        chosen: list[Product] = []
        while len(chosen) < k:
            p = rng.choices(products, weights)[0]
            if p not in chosen:
                chosen.append(p)
        shares = [rng.random() + 0.2 for _ in chosen]
        for p, s in zip(chosen, shares, strict=True):
            agreements[(inst.institution_id, p.registration_no)] = max(
                1, round(total * s / sum(shares)))
    return Province(seed=seed, program_id=f"{prefix}-STENT", region=f"重庆市{prefix}",
                    agency=f"重庆市{prefix}", execution_start=EXECUTION_START,
                    institutions=insts, products=products, distributors=distributors,
                    assignments=assignments, backups=backups, agreements=agreements,
                    barred=barred)
