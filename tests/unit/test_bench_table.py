"""``vbp bench``'s table (issue #19): each figure with its raw baseline, their ratio, the
target and the result."""

from __future__ import annotations

import math

from bench.suite import Row, table


def test_ratio_is_the_figure_over_its_baseline() -> None:
    assert Row("routing", "events/s", 300, 600, ">= 50 % of raw", True).ratio == 0.5
    assert math.isnan(Row("x", "ms", 1, 0, "t", False).ratio)


def test_table_prints_each_row_with_baseline_ratio_target_and_result() -> None:
    text = table([Row("order placement", "orders/s", 120, 200, ">= 50 % of raw", True),
                  Row("placed → routed p99", "ms", 250, 100, "< 200 ms", False)])
    head, rule, first, second = text.splitlines()
    assert [c.strip() for c in head.strip("|").split("|")] == [
        "figure", "value", "raw baseline", "ratio", "target", "result"]
    assert set(rule) == {"|", "-"}
    assert [c.strip() for c in first.strip("|").split("|")] == [
        "order placement", "120.0 orders/s", "200.0 orders/s", "0.60", ">= 50 % of raw", "PASS"]
    assert [c.strip() for c in second.strip("|").split("|")] == [
        "placed → routed p99", "250.0 ms", "100.0 ms", "2.50", "< 200 ms", "FAIL"]
    assert len({len(line) for line in text.splitlines()}) == 1
