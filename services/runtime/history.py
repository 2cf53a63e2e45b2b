"""The change history every service keeps of its own objects (R-AGR-9 style audit): who
changed what, when and why. One table shape and one writer for every service; each service
names its subjects (``order``, ``agreement``, ``listing``, ``assignment`` …).

This is the domain history of objects. The record of every HTTP write (who called which route)
is ``audit_log`` (``services.runtime.audit``)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index, MetaData, Row, String, Table, Text, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.runtime.db import BigId, UTCDateTime


def history_table(metadata: MetaData) -> Table:
    """The ``history`` table in a service's metadata."""
    table = Table(
        "history",
        metadata,
        Column("seq", BigId, primary_key=True, autoincrement=True),
        Column("subject_kind", String(20), nullable=False),
        Column("subject_id", String(200), nullable=False),
        Column("change", String(40), nullable=False),
        Column("detail", Text, nullable=False),  # a JSON object
        Column("actor", String(200), nullable=False),
        Column("reason", Text, nullable=False),
        Column("at", UTCDateTime(), nullable=False),
    )
    Index("ix_history_subject_kind_subject_id_seq", table.c.subject_kind, table.c.subject_id,
          table.c.seq)
    return table


def history_row(subject_kind: str, subject_id: str, change: str, detail: Mapping[str, Any],
                actor: str, reason: str, at: datetime) -> dict[str, Any]:
    return {"subject_kind": subject_kind, "subject_id": subject_id, "change": change,
            "detail": json.dumps(detail, ensure_ascii=False, default=str,
                                 separators=(",", ":")),
            "actor": actor, "reason": reason, "at": at}


async def write_history(conn: AsyncConnection, table: Table,
                        rows: Iterable[dict[str, Any]]) -> None:
    """Append rows made by ``history_row`` in the connection's transaction."""
    batch = list(rows)
    if batch:
        await conn.execute(insert(table), batch)


async def history_of(conn: AsyncConnection, table: Table, subject_kind: str,
                     subject_id: str) -> list[Row[Any]]:
    """One object's changes, oldest first."""
    query = (select(table).where(table.c.subject_kind == subject_kind,
                                 table.c.subject_id == subject_id).order_by(table.c.seq))
    return list((await conn.execute(query)).all())


def detail_of(row: Row[Any]) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(row.detail)
    return value
