"""The accelerated clock of ``vbp simulate`` (services/runtime/clock.py): every process given
the same epochs and rate reads the same simulated instant at the same wall moment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.runtime.clock import (
    SHANGHAI,
    AcceleratedClock,
    SystemClock,
    clock_from_settings,
)
from services.runtime.settings import Settings

START = datetime(2026, 1, 31, tzinfo=SHANGHAI)


def test_simulated_time_runs_rate_times_faster_from_the_epochs() -> None:
    wall = [1_000.0]
    clock = AcceleratedClock(START, 1_000.0, 86_400.0, wall=lambda: wall[0])
    assert clock.now() == START
    wall[0] = 1_001.5  # a second and a half of wall time is a day and a half
    assert clock.now() == START + timedelta(days=1, hours=12)
    wall[0] = 999.0  # before the wall epoch: before the simulated epoch, at the same rate
    assert clock.now() == START - timedelta(days=1)


def test_two_clocks_with_the_same_settings_agree_and_wall_at_inverts_now() -> None:
    a = AcceleratedClock(START, 5_000.0, 40_000.0, wall=lambda: 5_123.25)
    b = AcceleratedClock(START, 5_000.0, 40_000.0, wall=lambda: 5_123.25)
    assert a.now() == b.now() == START + timedelta(seconds=123.25 * 40_000)
    later = START + timedelta(days=200, minutes=7)
    assert a.at_wall(a.wall_at(later)) == later


def test_the_settings_describe_the_clock_in_every_process(monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    clock = AcceleratedClock(START, 1_700_000_000.5, 3_600.0)
    for name, value in clock.env().items():
        monkeypatch.setenv(name, value)
    s = Settings()
    built = clock_from_settings(s.clock_epoch_sim, s.clock_epoch_wall, s.clock_rate)
    assert isinstance(built, AcceleratedClock)
    assert (built.sim_epoch, built.wall_epoch, built.rate) == (START, 1_700_000_000.5, 3_600.0)
    assert built.at_wall(1_700_000_001.5) == START + timedelta(hours=1)


def test_without_a_simulated_epoch_it_is_the_system_clock() -> None:
    assert isinstance(clock_from_settings(None, None, 1.0), SystemClock)
    with pytest.raises(ValueError, match="EPOCH_SIM"):
        clock_from_settings(None, 10.0, 1.0)
    with pytest.raises(ValueError, match="positive"):
        AcceleratedClock(START, 0.0, 0.0)
    with pytest.raises(ValueError, match="aware"):
        AcceleratedClock(datetime(2026, 1, 1), 0.0, 2.0)


def test_a_naive_epoch_in_the_settings_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VBP_CLOCK_EPOCH_SIM", "2026-01-31T00:00:00")
    with pytest.raises(ValueError, match="timezone"):
        Settings()
    monkeypatch.setenv("VBP_CLOCK_EPOCH_SIM", datetime(2026, 1, 1, tzinfo=UTC).isoformat())
    assert Settings().clock_epoch_sim == datetime(2026, 1, 1, tzinfo=UTC)
