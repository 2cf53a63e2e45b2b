"""How monitoring cuts a chunk of mixed events for its projectors (``readmodels.groups``), and
how a rebuild reads a record (``rebuild._read``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bench.monitoring import START, events
from contracts.base import CloudEvent, Event
from contracts.catalog import ListingReinstated, ListingSuspended
from contracts.orders import OrderAccepted, OrderCancelled, OrderPlaced
from contracts.supply import OrderDelivered
from services.monitoring.readmodels import groups
from services.monitoring.rebuild import BY_TYPE, _read
from services.runtime.envelope import decode_as, encode


def pair(event: Event) -> tuple[Event, CloudEvent]:
    return event, CloudEvent.of(event, source="/t", time=datetime.now(UTC))


def test_commuting_topics_are_grouped_by_type_each_type_in_its_order() -> None:
    chunk = [pair(e) for e in events(60, 10)[41:]]  # placed, delivered, accepted, cancelled …
    cut = list(groups(chunk))
    assert [cls for cls, _ in cut] == [OrderPlaced, OrderCancelled, OrderAccepted,
                                       OrderDelivered]
    for cls, group in cut:
        assert group == [item for item in chunk if type(item[0]) is cls]
    assert sorted(id(item) for _, g in cut for item in g) == sorted(id(item) for item in chunk)


def test_catalog_events_keep_their_order_in_runs_of_one_type() -> None:
    def listing(cls: type[Event], listing_id: str) -> tuple[Event, CloudEvent]:
        e = cls.model_construct(listing_id=listing_id)
        return e, CloudEvent.model_construct(id=listing_id, type=cls.TYPE, data={})

    s1, s2, r1, s3 = (listing(ListingSuspended, "L1"), listing(ListingSuspended, "L2"),
                      listing(ListingReinstated, "L1"), listing(ListingSuspended, "L1"))
    cut = [(cls, [e[1].id for e in g]) for cls, g in groups([s1, s2, r1, s3])]
    assert cut == [(ListingSuspended, ["L1", "L2"]), (ListingReinstated, ["L1"]),
                   (ListingSuspended, ["L1"])]


class Record:
    def __init__(self, value: bytes | None, headers: list[tuple[str, bytes]]) -> None:
        self.value, self.headers = value, headers


def test_rebuild_reads_the_event_and_its_id_and_skips_what_the_consumer_dead_letters() -> None:
    event = events(60, 10)[45]
    ce = CloudEvent.of(event, source="/t", time=START)
    _, value, headers = encode(ce)
    read = _read(Record(value, headers))
    assert read is not None
    assert read[0] == event and read[1].id == ce.id and read[1].type == ce.type
    without_id = [(k, v) for k, v in headers if k != "ce_id"]
    unknown = [(k, b"vbp.other.v1" if k == "ce_type" else v) for k, v in headers]
    bad: list[Any] = [Record(b"not json", headers), Record(b'{"order_id": 1}', headers),
                      Record(None, headers), Record(value, without_id),
                      Record(value, unknown)]
    assert [_read(r) for r in bad] == [None] * len(bad)


def test_rebuild_reads_what_the_live_consumer_reads_and_refuses_what_it_refuses() -> None:
    """``_read`` builds the envelope without validating it again: the same event and envelope
    as ``envelope.decode_as`` (the live consumers'), and None where that raises."""
    for event in events(60, 10)[40:]:
        _, value, headers = encode(CloudEvent.of(event, source="/t", time=START,
                                                 traceparent="00-" + "1" * 32 + "-" + "2" * 16
                                                 + "-01"))
        live = decode_as(value, headers, BY_TYPE)
        read = _read(Record(value, headers))
        assert live is not None and read is not None
        assert read[0] == live[0] and read[1] == live[1]
        assert read[1].model_dump() == live[1].model_dump()
    naive = [(k, b"2025-03-01T08:00:00" if k == "ce_time" else v) for k, v in headers]
    wrong = [(k, b"0.3" if k == "ce_specversion" else v) for k, v in headers]
    for refused in (naive, wrong):
        with pytest.raises(ValueError):
            decode_as(value, refused, BY_TYPE)
        assert _read(Record(value, refused)) is None
