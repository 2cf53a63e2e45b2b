"""Delivery-time statistics from database aggregates agree with ``delivery_stats`` over the
records themselves (R-SUP-3): the service computes count, sum and the nearest-rank 90th
percentile in SQL and hands them to ``stats_from_totals``."""

from datetime import UTC, datetime, timedelta

import pytest

from services.supply.domain import DeliveredOrder, delivery_stats, p90_rank, stats_from_totals

T0 = datetime(2023, 2, 1, tzinfo=UTC)


@pytest.mark.parametrize(("n", "rank"), [(1, 1), (2, 2), (9, 9), (10, 9), (11, 10), (20, 18),
                                         (21, 19), (100, 90), (101, 91)])
def test_p90_rank_is_the_ceiling_of_nine_tenths(n: int, rank: int) -> None:
    assert p90_rank(n) == rank


def test_p90_rank_of_nothing_is_refused() -> None:
    with pytest.raises(ValueError):
        p90_rank(0)


@pytest.mark.parametrize("n", [1, 2, 3, 7, 10, 11, 37])
def test_totals_give_the_same_stats_as_the_records(n: int) -> None:
    spans = [timedelta(hours=3 * i + 1, microseconds=7 * i) for i in range(n)]
    records = [DeliveredOrder("D", "E", T0, T0 + s) for s in spans]
    expected = delivery_stats(records)[("D", "E")]
    us = sorted(s // timedelta(microseconds=1) for s in spans)
    got = stats_from_totals("D", "E", n, sum(us), us[p90_rank(n) - 1])
    assert got == expected


def test_totals_of_nothing_are_refused() -> None:
    with pytest.raises(ValueError):
        stats_from_totals("D", "E", 0, 0, 0)
