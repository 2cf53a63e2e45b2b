"""Metrics read from a database at scrape time (runtime/metrics.py, issue 16): each sample
replaces the whole set of series, counters get ``_total``, histograms are cumulative."""

from __future__ import annotations

from decimal import Decimal

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from services.runtime.metrics import Sampled, SampledHistogram


def exposition(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]],
                                                      float]:
    text = generate_latest(registry).decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_a_sample_replaces_every_series_so_none_goes_stale() -> None:
    registry = CollectorRegistry()
    open_risks = Sampled("vbp_test_risks_open", "open risks", ("region",), registry=registry)
    open_risks.replace({("重庆市",): 2, ("辽宁省",): 1})
    open_risks.replace({("辽宁省",): 3})
    assert exposition(registry) == {("vbp_test_risks_open", (("region", "辽宁省"),)): 3.0}


def test_a_counter_is_exposed_with_total_and_money_stays_exact() -> None:
    registry = CollectorRegistry()
    placed = Sampled("vbp_test_placed_amount_fen", "fen", ("program",), "counter",
                     registry=registry)
    placed.replace({("CQ",): Decimal(1_314_000)})
    text = generate_latest(registry).decode()
    assert "# TYPE vbp_test_placed_amount_fen_total counter" in text
    assert exposition(registry)[("vbp_test_placed_amount_fen_total", (("program", "CQ"),))] \
        == 1_314_000


def test_label_values_must_match_the_label_names() -> None:
    metric = Sampled("vbp_test_labels", "x", ("program", "region"),
                     registry=CollectorRegistry())
    with pytest.raises(ValueError):
        metric.replace({("CQ",): 1})
    with pytest.raises(ValueError):
        Sampled("vbp_test_kind", "x", (), "summary", registry=CollectorRegistry())


def test_a_histogram_from_cumulative_bucket_counts() -> None:
    registry = CollectorRegistry()
    delivery = SampledHistogram("vbp_test_delivery_seconds", "x", ("distributor",),
                                (3600.0, 14400.0), registry=registry)
    delivery.replace({("D1",): ([1, 3, 4], 30_000.0)})
    got = exposition(registry)
    assert got[("vbp_test_delivery_seconds_bucket", (("distributor", "D1"), ("le", "3600.0")))] \
        == 1
    assert got[("vbp_test_delivery_seconds_bucket", (("distributor", "D1"), ("le", "+Inf")))] \
        == 4
    assert got[("vbp_test_delivery_seconds_count", (("distributor", "D1"),))] == 4
    assert got[("vbp_test_delivery_seconds_sum", (("distributor", "D1"),))] == 30_000
    with pytest.raises(ValueError):
        delivery.replace({("D1",): ([1, 3], 1.0)})  # no +Inf
    with pytest.raises(ValueError):
        delivery.replace({("D1",): ([3, 1, 4], 1.0)})  # not cumulative
