"""Which failures are the infrastructure's (retried without limit) and which the event's
(dead-lettered after retries) — issue #12.1; and the headers of a replayed dead letter (#12.4)."""

from __future__ import annotations

import asyncpg
import pytest
from aiokafka import TopicPartition
from aiokafka.errors import KafkaConnectionError
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from services.runtime.consumer import is_infrastructure_error
from services.runtime.deadletters import replay_headers


def wrapped(driver_error: BaseException, cls: type[DBAPIError] = DBAPIError,
            invalidated: bool = False) -> DBAPIError:
    """As SQLAlchemy raises it: the driver's exception as ``orig`` and as the cause."""
    try:
        try:
            raise driver_error
        except BaseException as exc:
            raise cls("SELECT 1", {}, exc, connection_invalidated=invalidated) from exc
    except DBAPIError as outer:
        return outer


@pytest.mark.parametrize("exc", [
    ConnectionRefusedError(111, "Connect call failed"),
    TimeoutError(),
    KafkaConnectionError("broker gone"),
    asyncpg.CannotConnectNowError("the database system is starting up"),
    asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
    wrapped(asyncpg.CannotConnectNowError("the database system is starting up")),
    wrapped(ConnectionResetError(), OperationalError),
    wrapped(ValueError("whatever the driver said"), invalidated=True),
])
def test_infrastructure_failures_are_not_the_events_fault(exc: BaseException) -> None:
    assert is_infrastructure_error(exc)


class Row(BaseModel):
    n: int


def validation_error() -> ValidationError:
    try:
        Row.model_validate({"n": "x"})
    except ValidationError as exc:
        return exc
    raise AssertionError


@pytest.mark.parametrize("exc", [
    ValueError("cannot apply n=1"),
    KeyError("order"),
    validation_error(),
    wrapped(asyncpg.UniqueViolationError("duplicate key"), IntegrityError),
])
def test_handler_failures_count_toward_dead_lettering(exc: BaseException) -> None:
    assert not is_infrastructure_error(exc)


def test_a_replayed_dead_letter_names_the_group_that_failed_it() -> None:
    headers = [("ce_id", b"e1"), ("dlt_error", b"ValueError()"), ("dlt_consumer", b"supply.orders"),
               ("dlt_attempts", b"5")]
    replayed = replay_headers(headers, TopicPartition("vbp.orders.orders.v1.dlt", 0), 7)
    assert replayed == [("ce_id", b"e1"), ("dlt_replay_for", b"supply.orders"),
                        ("dlt_replay_of", b"vbp.orders.orders.v1.dlt/0@7")]
