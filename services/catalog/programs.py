"""Programs (R-PRG-1): publishing a program with its policy profile, a preset or its own, and
changing the profile, always as a new version (never an edit in place)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.catalog import ProgramIn, ProgramOut, ProgramProfileChanged, ProgramPublished
from contracts.profiles import PolicyProfile
from services.catalog import errors, store
from services.catalog.presets import PRESETS
from services.runtime.auth import Principal
from services.runtime.db import UnitOfWork
from services.runtime.problems import not_found


def resolve_profile(cmd: ProgramIn) -> PolicyProfile:
    if cmd.profile is not None:
        return cmd.profile
    if cmd.preset is None:
        raise errors.profile_required(PRESETS)
    if cmd.preset not in PRESETS:
        raise errors.unknown_preset(cmd.preset, PRESETS)
    return PRESETS[cmd.preset]


def program_out(row: Any) -> ProgramOut:
    data = row._asdict()
    data["profile"] = PolicyProfile.model_validate_json(data["profile"])
    return ProgramOut.model_validate(data)


async def publish_program(uow: UnitOfWork, cmd: ProgramIn, caller: Principal) -> ProgramOut:
    """PublishProgram."""
    if await store.get_program(uow.conn, cmd.program_id) is not None:
        raise errors.program_exists(cmd.program_id)
    profile = resolve_profile(cmd).model_copy(update={"version": 1})
    now = uow.clock.now()
    facts = cmd.model_dump(exclude={"profile", "preset"})
    profile_json = profile.model_dump_json()
    await uow.conn.execute(insert(store.programs).values(
        **facts, profile=profile_json, profile_version=1, published_by=caller.actor,
        published_at=now))
    await uow.conn.execute(insert(store.program_profiles).values(
        program_id=cmd.program_id, version=1, profile=profile_json, reason="published",
        changed_by=caller.actor, changed_at=now))
    uow.record(ProgramPublished(**facts, profile=profile, published_by=caller.actor))
    row = await store.get_program(uow.conn, cmd.program_id)
    return program_out(row)


async def change_profile(uow: UnitOfWork, program_id: str, profile: PolicyProfile, reason: str,
                         caller: Principal) -> ProgramOut:
    """ChangeProgramProfile: a new version, never an edit in place."""
    row = await store.get_program(uow.conn, program_id, for_update=True)
    if row is None:
        raise not_found("program", program_id)
    version = row.profile_version + 1
    profile = profile.model_copy(update={"version": version})
    now = uow.clock.now()
    await uow.conn.execute(update(store.programs).where(store.programs.c.program_id == program_id)
                           .values(profile=profile.model_dump_json(), profile_version=version))
    await uow.conn.execute(insert(store.program_profiles).values(
        program_id=program_id, version=version, profile=profile.model_dump_json(),
        reason=reason, changed_by=caller.actor, changed_at=now))
    uow.record(ProgramProfileChanged(program_id=program_id, version=version, profile=profile,
                                     reason=reason, changed_by=caller.actor, changed_at=now))
    return program_out(await store.get_program(uow.conn, program_id))


# --- views -------------------------------------------------------------------------------------


async def list_programs(conn: AsyncConnection) -> list[ProgramOut]:
    return [program_out(row) for row in await store.list_programs(conn)]


async def get_program(conn: AsyncConnection, program_id: str) -> ProgramOut:
    row = await store.get_program(conn, program_id)
    if row is None:
        raise not_found("program", program_id)
    return program_out(row)
