"""CloudEvents 1.0 binary mode on Kafka: encode, decode, and what a bad record reports."""

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from contracts.base import CloudEvent
from contracts.catalog import ProgramPublished
from services.runtime.envelope import EnvelopeError, decode, decode_as, encode


def program() -> ProgramPublished:
    return ProgramPublished(
        program_id="CQ-STENT-2023", category="冠脉支架", region="重庆",
        notice_no="渝医保办〔2023〕3号",
        organiser="national", execution_start=datetime(2023, 1, 30, 16, tzinfo=UTC),
        cycle_years=3, published_by="regulator:BUREAU/u1",
    )


def test_round_trip_keeps_attributes_and_data() -> None:
    ce = CloudEvent.of(program(), source="/vbp/catalog", time=datetime(2023, 1, 18, tzinfo=UTC),
                       traceparent="00-" + "a" * 32 + "-" + "b" * 16 + "-01")
    key, value, headers = encode(ce)
    names = dict(headers)
    assert key == b"CQ-STENT-2023"
    assert names["ce_type"] == b"vbp.catalog.program.published.v1"
    assert names["ce_specversion"] == b"1.0"
    assert names["content-type"] == b"application/json"
    assert "渝医保办" in value.decode()
    back = decode(value, headers)
    assert back == ce
    assert ProgramPublished.model_validate(back.data) == program()


@pytest.mark.parametrize(
    ("value", "drop", "message"),
    [
        (b"{not json", None, "not JSON"),
        (b"[1, 2]", None, "not a JSON object"),
        (b"{}", "ce_id", "missing CloudEvents headers: ce_id"),
        (None, None, "no value"),
    ],
)
def test_bad_records_say_what_is_wrong(value: bytes | None, drop: str | None,
                                       message: str) -> None:
    ce = CloudEvent.of(program(), source="/vbp/catalog", time=datetime.now(UTC))
    _, _, headers = encode(ce)
    headers = [(k, v) for k, v in headers if k != drop]
    with pytest.raises(EnvelopeError, match=message):
        decode(value, headers)


def test_decode_as_reads_the_routed_event_straight_from_its_json() -> None:
    ce = CloudEvent.of(program(), source="/vbp/catalog", time=datetime(2023, 1, 18, tzinfo=UTC))
    _, value, headers = encode(ce)
    types = {ProgramPublished.TYPE: ProgramPublished}
    read = decode_as(value, headers, types)
    assert read is not None
    event, envelope = read
    assert event == program()
    assert (envelope.id, envelope.type, envelope.time) == (ce.id, ce.type, ce.time)
    assert decode_as(value, headers, {}) is None  # a type not routed: ignored
    with pytest.raises(ValidationError):
        decode_as(b"{not json", headers, types)
    with pytest.raises(EnvelopeError, match="missing CloudEvents headers: ce_id"):
        decode_as(value, [(k, v) for k, v in headers if k != "ce_id"], types)
    with pytest.raises(EnvelopeError, match="no value"):
        decode_as(None, headers, types)
