"""The base of every event, and its CloudEvents 1.0 attributes.

An event class is the *data* of a CloudEvent. Its class variables say which CloudEvents ``type``
it has and on which topic it travels; ``key()`` is the aggregate id, used as the Kafka message key
and the CloudEvents ``subject`` so one aggregate's events stay in order.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

SPEC_VERSION = "1.0"


class Event(BaseModel):
    """Data of an event. Past tense names (``ProductListed``).

    Unknown fields are ignored, so a producer may add an optional field without breaking the
    consumers that do not know it yet (a backward-compatible change, same version).
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    TYPE: ClassVar[str]
    """CloudEvents type, e.g. ``vbp.catalog.listing.listed.v1``; the last part is the version."""
    TOPIC: ClassVar[str]
    """Kafka topic the event is published on."""

    KEY: ClassVar[str]
    """The field holding the aggregate id: the Kafka message key and CloudEvents subject
    (the AsyncAPI document names it per message)."""

    def key(self) -> str:
        """Aggregate id: Kafka message key and CloudEvents subject."""
        return str(getattr(self, self.KEY))


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 envelope: the attributes, plus the data as a plain JSON object."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    source: str
    type: str
    time: AwareDatetime
    subject: str
    specversion: str = SPEC_VERSION
    datacontenttype: str = "application/json"
    traceparent: str | None = None
    data: dict[str, Any]

    @classmethod
    def of(
        cls,
        event: Event,
        *,
        source: str,
        time: datetime,
        traceparent: str | None = None,
        id: str | None = None,
    ) -> CloudEvent:
        return cls(
            id=id or str(uuid.uuid4()),
            source=source,
            type=event.TYPE,
            time=time,
            subject=event.key(),
            traceparent=traceparent,
            data=event.model_dump(mode="json"),
        )
