"""The gateway loops on the in-process bus: the simulator's sessions go out once per station, stamped
with the clock its frames run on, whichever way the frames are published."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from kinesync.bus.base import Bus
from kinesync.bus.memory import MemoryBus
from kinesync.bus.topics import EMG, FORCE, SESSIONS
from kinesync.codec.frame import decode
from kinesync.gateway.runner import run_gateway, serve_gateway
from kinesync.models import SessionAssignment
from kinesync.settings import Settings

Loop = Callable[[Bus, Settings, asyncio.Event], Awaitable[object]]


@pytest.mark.parametrize("loop", [serve_gateway, run_gateway], ids=["plain producer", "publisher"])
async def test_sim_sessions_are_stamped_with_the_first_frame_of_their_station(loop: Loop) -> None:
    # serve_gateway without an HTTP port takes the plain producer; run_gateway always the publisher.
    settings = Settings(gateway_source="sim", gateway_port=0, sim_stations=3, sim_realtime=False,
                        sim_duration_s=0.5, sim_bar=False)
    bus = MemoryBus()
    await bus.ensure_topics()
    await asyncio.wait_for(loop(bus, settings, asyncio.Event()), 30)

    sessions = [SessionAssignment.model_validate_json(m.value) for m in bus.messages(SESSIONS)]
    assert sorted(s.station for s in sessions) == ["station-01", "station-02", "station-03"]
    first_frame: dict[str, int] = {}
    for msg in bus.messages(EMG) + bus.messages(FORCE):
        frame = decode(msg.value)
        first_frame[frame.station] = min(first_frame.get(frame.station, frame.t0_ns), frame.t0_ns)
    assert {s.station: s.updated_at_ns for s in sessions} == first_frame
    assert len(set(first_frame.values())) == 1  # one simulator, one origin
