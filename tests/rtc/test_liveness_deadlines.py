"""'disconnected' and 'failed' change at their deadlines (the last consent answer +
disconnected_after / failed_after), never before, and consent answered again brings the
transport back at once: real loopback calls, the path cut at the sockets (PathCut)."""

from __future__ import annotations

import asyncio

from lab.rtc import DetectionConfig
from lab.runtime.agent import rtc as agent_rtc

from .peers import PathCut, make_peer, start_call, wait_for

DETECTION = DetectionConfig(consent_interval=0.2, disconnected_after=0.8, failed_after=1.6)


async def test_states_change_at_their_deadlines_and_not_before() -> None:
    call = await start_call(make_peer(DETECTION), make_peer(DETECTION))
    transport = call.transport(call.a)
    loop = asyncio.get_running_loop()
    changed: dict[str, float] = {}
    transport.on("statechange", lambda: changed.setdefault(transport.state, loop.time()))

    # healthy: the next evaluation is the last consent answer's 'disconnected' deadline
    connection = transport.activeGeneration.connection
    await wait_for(lambda: connection.lab_last_consent is not None, what="a consent answer")
    last = connection.lab_last_consent
    when = transport.liveness_deadline()
    assert last is not None and when is not None and when <= last + DETECTION.disconnected_after

    cut = PathCut()
    cut.apply_to(call.a)
    cut.apply_to(call.b)
    cut.active = True
    await wait_for(lambda: transport.state == "disconnected", what="disconnected")
    last = connection.lab_last_consent
    assert last is not None
    # the change came at the deadline of the last answer, not before it
    assert changed["disconnected"] >= last + DETECTION.disconnected_after
    # the agent names that answer in its ice_state event (the state is defensible from events)
    assert agent_rtc.last_heard_at(call.a) == last == transport.last_heard_at()
    # and the next evaluation is exactly the 'failed' deadline of that same answer
    assert transport.liveness_deadline() == last + DETECTION.failed_after

    await wait_for(lambda: transport.state == "failed", what="failed")
    assert changed["failed"] >= last + DETECTION.failed_after
    assert connection.lab_last_consent == last
    assert transport.liveness_deadline() is None  # only a consent answer changes it now

    cut.active = False
    await wait_for(lambda: transport.state == "completed", what="back without a restart")
    answered = connection.lab_last_consent
    assert answered is not None and answered > last
    assert changed["completed"] >= answered
    # re-armed from the answer that revived it: the next 'disconnected' deadline is its
    when = transport.liveness_deadline()
    assert when is not None and last + DETECTION.failed_after < when
    assert when <= connection.lab_last_consent + DETECTION.disconnected_after
    assert transport.activeGeneration.number == 0
    await call.close()


async def test_a_consent_answer_moves_the_deadline_on() -> None:
    """While consent is answered, the 'disconnected' deadline follows the latest answer and
    the state never leaves 'completed'."""
    call = await start_call(make_peer(DETECTION), make_peer(DETECTION))
    transport = call.transport(call.a)
    connection = transport.activeGeneration.connection
    states: list[str] = []
    transport.on("statechange", lambda: states.append(transport.state))
    seen: set[float] = set()
    # 0.2 s consent for 3 x disconnected_after: several answers, each moving the deadline
    deadline = asyncio.get_running_loop().time() + 3 * DETECTION.disconnected_after
    while asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)
        last = connection.lab_last_consent
        when = transport.liveness_deadline()
        assert last is not None and when is not None
        assert when <= last + DETECTION.disconnected_after
        seen.add(last)
    assert len(seen) > 2
    assert states == []
    await call.close()
