"""The consumer's routing table with batch routes, and how a chunk is cut into runs."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

import pytest

from contracts.base import CloudEvent, Event
from services.runtime.consumer import ConsumerSpec, _Item, _runs, traced
from services.runtime.db import UnitOfWork
from services.runtime.tracing import traceparent_var


class Placed(Event):
    TYPE: ClassVar[str] = "vbp.test.placed.v1"
    TOPIC: ClassVar[str] = "vbp.test.things.v1"
    thing_id: str

    def key(self) -> str:
        return self.thing_id


class Cancelled(Placed):
    TYPE: ClassVar[str] = "vbp.test.cancelled.v1"


class Listed(Placed):
    TYPE: ClassVar[str] = "vbp.test.listed.v1"
    TOPIC: ClassVar[str] = "vbp.test.listings.v1"


async def one(uow: UnitOfWork, event: Any, ce: CloudEvent) -> None:
    raise AssertionError("not called here")


async def many(uow: UnitOfWork, items: Sequence[tuple[Any, CloudEvent]]) -> None:
    raise AssertionError("not called here")


async def other_many(uow: UnitOfWork, items: Sequence[tuple[Any, CloudEvent]]) -> None:
    raise AssertionError("not called here")


def test_topics_include_the_batch_routes() -> None:
    spec = ConsumerSpec(name="c", routes={Cancelled: one}, batch_routes={Listed: many})
    assert spec.topics == ["vbp.test.listings.v1", "vbp.test.things.v1"]


def test_an_event_type_has_one_handler_only() -> None:
    with pytest.raises(ValueError, match=re.escape("two handlers for vbp.test.placed.v1")):
        ConsumerSpec(name="c", routes={Placed: one}, batch_routes={Placed: many})
    with pytest.raises(ValueError, match=re.escape("two handlers for vbp.test.placed.v1")):
        ConsumerSpec(name="c", routes={}, batch_routes={Placed: many},
                     chunk_routes={Placed: other_many, Cancelled: other_many})
    with pytest.raises(ValueError, match=re.escape("two handlers for vbp.test.cancelled.v1")):
        ConsumerSpec(name="c", routes={Cancelled: one}, chunk_routes={Cancelled: many})


def test_topics_include_the_chunk_routes() -> None:
    spec = ConsumerSpec(name="c", routes={}, chunk_routes={Placed: many, Listed: many})
    assert spec.topics == ["vbp.test.listings.v1", "vbp.test.things.v1"]


def item(event: Event) -> _Item:
    ce = CloudEvent.of(event, source="/t", time=datetime.now(UTC))
    batch = {Placed: many, Listed: other_many}.get(type(event))
    return _Item(record=None, handler=None if batch else one,
                 batch=batch, event=event, ce=ce)


def test_runs_keep_the_chunk_order_and_group_only_neighbours_of_one_batch_type() -> None:
    p1, p2, c1, p3, l1, l2, p4, c2, c3 = (
        Placed(thing_id="a"), Placed(thing_id="b"), Cancelled(thing_id="a"),
        Placed(thing_id="c"), Listed(thing_id="x"), Listed(thing_id="y"), Placed(thing_id="d"),
        Cancelled(thing_id="c"), Cancelled(thing_id="d"))
    items = [item(e) for e in (p1, p2, c1, p3, l1, l2, p4, c2, c3)]
    runs = [[i.event for i in run] for run in _runs(items)]
    assert runs == [[p1, p2], [c1], [p3], [l1, l2], [p4], [c2], [c3]]
    assert [i.event for run in _runs(items) for i in run] == [i.event for i in items]


def test_runs_of_a_chunk_route_take_neighbours_of_any_of_its_types() -> None:
    """Placed and Cancelled go to one chunk handler, Listed to a batch handler of its own and
    a single route: a run ends only where a record of another handler comes."""
    def mixed(event: Event) -> _Item:
        ce = CloudEvent.of(event, source="/t", time=datetime.now(UTC))
        if isinstance(event, Listed):
            return _Item(record=None, handler=None, batch=other_many, event=event, ce=ce)
        return _Item(record=None, handler=None, batch=many, event=event, ce=ce, mixed=True)

    p1, c1, p2, l1, l2, c2, p3 = (
        Placed(thing_id="a"), Cancelled(thing_id="a"), Placed(thing_id="b"),
        Listed(thing_id="x"), Listed(thing_id="y"), Cancelled(thing_id="b"),
        Placed(thing_id="c"))
    single = _Item(record=None, handler=one, batch=None, event=p3,
                   ce=CloudEvent.of(p3, source="/t", time=datetime.now(UTC)))
    items = [mixed(e) for e in (p1, c1, p2, l1, l2, c2)] + [single] + [mixed(p3)]
    runs = [[i.event for i in run] for run in _runs(items)]
    assert runs == [[p1, c1, p2], [l1, l2], [c2], [p3], [p3]]


def test_traced_gives_the_event_trace_to_what_is_recorded_within() -> None:
    parent = "00-" + "a" * 32 + "-" + "b" * 16 + "-01"
    ce = CloudEvent.of(Placed(thing_id="a"), source="/t", time=datetime.now(UTC),
                       traceparent=parent)
    before = traceparent_var.get()
    with traced(ce):
        inside = traceparent_var.get()
    assert inside is not None and inside.split("-")[1] == "a" * 32 and inside != parent
    assert traceparent_var.get() == before
