"""Issue #13.5: every event states the field it is keyed by, the Kafka key and the CloudEvents
subject are that field's value, and the AsyncAPI document says so for every message."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from contracts.base import CloudEvent, Event
from contracts.registry import EVENT_TYPES, TOPICS

ASYNCAPI = yaml.safe_load((Path(__file__).parents[2] / "contracts" / "asyncapi.yaml").read_text(
    encoding="utf-8"))
EVENTS = sorted(EVENT_TYPES.values(), key=lambda e: e.TYPE)


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: e.__name__)
def test_the_key_is_a_required_string_field_of_the_event(event: type[Event]) -> None:
    field = event.model_fields.get(event.KEY)
    assert field is not None, f"{event.__name__}.KEY names no field: {event.KEY!r}"
    assert field.is_required() and field.annotation is str


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: e.__name__)
def test_kafka_key_and_subject_are_the_key_fields_value(event: type[Event]) -> None:
    instance = event.model_construct(**{event.KEY: "aggregate-7"})
    assert instance.key() == "aggregate-7"
    envelope = CloudEvent.of(instance, source="test", time=datetime(2026, 1, 1, tzinfo=UTC))
    assert envelope.subject == "aggregate-7"


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: e.__name__)
def test_the_asyncapi_document_names_each_messages_key(event: type[Event]) -> None:
    message = ASYNCAPI["components"]["messages"][event.TYPE]
    assert message["bindings"]["kafka"]["key"]["description"] == f"Aggregate id ({event.KEY})"
    subject = message["headers"]["properties"]["ce_subject"]["description"]
    assert subject.startswith(f"Aggregate id ({event.KEY})")


def test_every_topics_channel_lists_its_events() -> None:
    for topic in TOPICS:
        channel = ASYNCAPI["channels"][topic.name]
        assert set(channel["messages"]) == {e.__name__ for e in topic.events}
        assert topic.keys == tuple(dict.fromkeys(e.KEY for e in topic.events))
