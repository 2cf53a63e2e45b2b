"""R-CRD-5: for a failure of quality or quantity, a regulator switches an institution's volume
to a backup product (备选) or triggers emergency supply; both are events on the credit topic
that orders and supply act on. Kept with who decided and why."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert

from contracts.monitoring import (
    BackupProductSwitched,
    BackupSwitchIn,
    EmergencySupplyIn,
    EmergencySupplyTriggered,
)
from services.monitoring import programs, store
from services.runtime.auth import Principal
from services.runtime.db import UnitOfWork
from services.runtime.ids import time_ordered_id


async def _keep(uow: UnitOfWork, event: Any, ident: str, kind: str, caller: Principal) -> None:
    await uow.conn.execute(insert(store.interventions).values(
        intervention_id=ident, kind=kind, program_id=event.program_id,
        enterprise_id=event.enterprise_id, detail=event.model_dump(mode="json"),
        decided_by=caller.actor, decided_at=uow.clock.now()))
    uow.record(event)


async def switch_to_backup(uow: UnitOfWork, body: BackupSwitchIn, caller: Principal
                           ) -> BackupProductSwitched:
    program = await programs.get(uow.conn, body.program_id)
    event = BackupProductSwitched(
        switch_id=time_ordered_id("BS", uow.clock.now()), program_id=program.program_id,
        region=program.region,
        institution_id=body.institution_id, enterprise_id=body.enterprise_id,
        registration_no=body.registration_no,
        backup_registration_no=body.backup_registration_no, units=body.units,
        reason=body.reason, decided_by=caller.actor, decided_at=uow.clock.now())
    await _keep(uow, event, event.switch_id, "backup_switch", caller)
    return event


async def trigger_emergency_supply(uow: UnitOfWork, body: EmergencySupplyIn,
                                   caller: Principal) -> EmergencySupplyTriggered:
    program = await programs.get(uow.conn, body.program_id)
    event = EmergencySupplyTriggered(
        emergency_id=time_ordered_id("ES", uow.clock.now()), program_id=program.program_id,
        region=program.region,
        enterprise_id=body.enterprise_id, registration_no=body.registration_no,
        institution_ids=sorted(set(body.institution_ids)), reason=body.reason,
        decided_by=caller.actor, decided_at=uow.clock.now())
    await _keep(uow, event, event.emergency_id, "emergency_supply", caller)
    return event
