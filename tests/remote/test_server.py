"""A served core on the sim (in this process, manual clock) and real socket clients:
several viewers, commands, detaching, the socket's permissions, bad frames, the
unattended policy, the stop command."""

from __future__ import annotations

import asyncio
import stat
from collections.abc import Callable
from decimal import Decimal
from socket import SO_RCVBUF, SO_SNDBUF, SOL_SOCKET

import pytest

from mmtui.core.runner import StrategyState
from mmtui.logsetup import LogBuffer
from mmtui.remote.client import RemoteError
from mmtui.remote.server import CoreServer
from mmtui.remote.sockets import SocketError
from mmtui.remote.wire import MAX_CLIENT_FRAME
from mmtui.session import Session

from ..conftest import AS_PARAMS, sim_config
from ..waiting import until
from .rig import RawClient, served, viewer


def _resting(session: Session) -> list[object]:
    return session.world.venues["sim"].open_orders("me")  # type: ignore[union-attr]


async def test_two_viewers_see_the_core_and_a_command_from_one_reaches_both(
    make_session: Callable[..., Session],
) -> None:
    session = make_session()
    async with served(session) as server:
        await session.run_for(5)
        a, b = await viewer(server), await viewer(server)
        try:
            for v in (a, b):
                assert v.view.header().run_id == session.engine.run_prefix
                assert [s.name for s in v.view.strategies()] == ["as_btc"]
            await until(lambda: len(server.viewers) == 2, what="two viewers")
            await a.pause_strategy("as_btc")
            assert session.engine.runner("as_btc").state is StrategyState.PAUSED
            await until(
                lambda: b.view.strategy("as_btc").state is StrategyState.PAUSED,  # type: ignore[union-attr]
                what="viewer b sees the pause",
            )
            await b.resume_strategy("as_btc")
            assert session.engine.runner("as_btc").state is StrategyState.RUNNING
            await session.run_for(2)
            book = session.engine.book("sim", "BTC-PERP")
            assert book is not None and book.is_valid()
            await until(
                lambda: (
                    (shown := a.view.book("sim", "BTC-PERP", 5)) is not None
                    and shown.bids[:1] == tuple(book.bids(1))
                ),
                what="viewer a shows the core's book",
            )
        finally:
            await a.detach()
            await b.detach()


async def test_a_refused_command_says_why_and_changes_nothing(
    make_session: Callable[..., Session],
) -> None:
    session = make_session()
    async with served(session) as server:
        v = await viewer(server)
        try:
            try:
                await v.pause_strategy("nope")
            except RemoteError as exc:
                assert "nope" in str(exc)
            else:
                raise AssertionError("pausing an unknown strategy was not refused")
            try:
                await v.edit_param("as_btc", "gamma", "-1")
            except RemoteError as exc:
                assert "gamma" in str(exc)
            else:
                raise AssertionError("a bad parameter was not refused")
            assert session.engine.runner("as_btc").state is StrategyState.RUNNING
        finally:
            await v.detach()


async def test_detaching_or_dropping_leaves_orders_resting_and_strategies_running(
    make_session: Callable[..., Session],
) -> None:
    session = make_session()
    async with served(session) as server:
        await session.run_for(5)
        first = await viewer(server)
        await until(lambda: len(server.viewers) == 1, what="attached")
        await first.detach()
        dropped = await RawClient.open(server.path)
        dropped.close()  # no detach: as a dropped SSH session
        await until(lambda: not server.viewers, what="both gone")
        await session.run_for(3)
        assert session.engine.runner("as_btc").state is StrategyState.RUNNING
        assert _resting(session), "the strategy's quotes still rest on the venue"
        assert not server.stop_requested.is_set()


async def test_the_socket_is_0600_in_a_0700_dir(make_session: Callable[..., Session]) -> None:
    async with served(make_session()) as server:
        assert stat.S_ISSOCK(server.path.stat().st_mode)
        assert stat.S_IMODE(server.path.stat().st_mode) == 0o600
        assert stat.S_IMODE(server.path.parent.stat().st_mode) == 0o700


async def test_bad_frames_are_refused_and_the_server_goes_on(
    make_session: Callable[..., Session],
) -> None:
    session = make_session()
    async with served(session) as server:
        client = await RawClient.open(server.path)
        client.raw(b"\x80not json")
        assert "bad frame: not JSON" in (await client.next("error"))["error"]
        client.raw(
            b'{"type":"cmd","id":1,"op":"pause","args":{"M":[["name",{"C":"os.system","f":[]}]]}}'
        )
        assert "unknown class 'os.system'" in (await client.next("error"))["error"]
        client.raw(b'{"type":"cmd","id":2,"op":"rm -rf","args":{"M":[]}}')
        reply = await client.next("reply")
        assert not reply["ok"] and "unknown command 'rm -rf'" in reply["error"]
        client.raw(b'{"type":"cmd","id":3,"op":"pause","args":{"M":[["name",7]]}}')
        reply = await client.next("reply")
        assert not reply["ok"] and "argument 'name'" in reply["error"]
        client.raw(b"[1, 2]")
        assert "a message is a JSON object" in (await client.next("error"))["error"]
        # a length past the limit: the stream cannot be trusted; this client is closed
        client.raw(b"[" * 200_000)  # nested past what a parser survives
        assert "nested deeper than 100" in (await client.next("error"))["error"]
        client.writer.write((MAX_CLIENT_FRAME + 1).to_bytes(4, "big"))
        assert "over the limit" in (await client.next("error"))["error"]
        assert await client.closed()
        # a client that never says hello properly
        stranger = await RawClient.open(server.path, hello=False)
        stranger.raw(b'{"type":"hello","version":99}')
        assert "expected hello version 1" in (await stranger.next("error"))["error"]
        stranger.close()
        # ... and the server still serves, the core still trades
        v = await viewer(server)
        await v.pause_strategy("as_btc")
        assert session.engine.runner("as_btc").state is StrategyState.PAUSED
        await v.detach()


async def test_stop_command_runs_the_safe_shutdown_and_returns_the_summary(
    make_session: Callable[..., Session],
) -> None:
    session = make_session()
    async with served(session) as server:
        await session.run_for(5)
        assert _resting(session)
        v, other = await viewer(server), await viewer(server)
        asked = asyncio.get_running_loop().create_task(v.shutdown())
        await until(server.stop_requested.is_set, what="stop requested")
        # what `mmtui serve` does on a stop request
        await session.stop()
        await server.finish(session.summary())
        summary = await asyncio.wait_for(asked, 10)
        assert summary is not None and summary.open_orders_left == 0
        assert _resting(session) == []
        await until(lambda: other.ended is not None, what="the other viewer told")
        assert other.ended.startswith("the core stopped")  # type: ignore[union-attr]
        assert other.summary is not None and other.summary.run_id == summary.run_id


async def test_an_owner_that_goes_away_stops_the_core(
    make_session: Callable[..., Session],
) -> None:
    async with served(make_session()) as server:
        plain = await viewer(server)
        await plain.close()  # a viewer dropping: nothing happens
        owner = await viewer(server, role="owner")
        await until(lambda: len(server.viewers) == 1, what="the owner attached")
        assert not server.stop_requested.is_set()
        await owner.close()
        await until(server.stop_requested.is_set, what="stop on the owner's loss")
        assert "owns this core went away" in server.stop_reason


async def test_unattended_pause_after_n_minutes_without_a_viewer(
    make_session: Callable[..., Session],
) -> None:
    config = sim_config(
        unattended={"policy": "pause", "after_minutes": 1},
        journal={"enabled": True},
    )
    session = make_session(config)
    async with served(session) as server:
        v = await viewer(server)
        await session.run_for(120)  # attached: nothing happens however long
        await asyncio.sleep(0.2)
        assert session.engine.runner("as_btc").state is StrategyState.RUNNING
        await v.detach()
        await until(lambda: not server.viewers, what="detached")
        await session.run_for(30)
        await asyncio.sleep(0.2)
        assert server.unattended.acted == 0, "not yet: 30 s alone of 60"
        await session.run_for(31)
        await until(lambda: server.unattended.acted == 1, what="the policy acted")
        assert session.engine.runner("as_btc").state is StrategyState.PAUSED
        await session.run_for(2)
        assert _resting(session) == []
        session.engine.journal.flush()  # type: ignore[union-attr]
        events = session.engine.journal.events(session.engine.run_prefix)  # type: ignore[union-attr]
        assert [e["detail"] for e in events if e["kind"] == "unattended"] == [
            "no viewer for 1 min: pause"
        ]


async def test_unattended_flatten_closes_the_position(
    make_session: Callable[..., Session],
) -> None:
    config = sim_config(unattended={"policy": "flatten", "after_minutes": 0.5})
    session = make_session(config)
    runner = session.engine.runner
    async with served(session) as server:
        for _ in range(25):
            await session.run_for(1)
            if runner("as_btc").position("sim", "BTC-PERP").size != 0:
                break
        await session.run_for(30)
        await until(lambda: server.unattended.acted == 1, what="the policy acted")
        for _ in range(50):
            await session.run_for(0.5)
            if runner("as_btc").position("sim", "BTC-PERP").size == 0:
                break
        assert runner("as_btc").state is StrategyState.PAUSED
        assert runner("as_btc").position("sim", "BTC-PERP").size == 0
        venue = session.world.venues["sim"]  # type: ignore[union-attr]
        assert all(p.size == 0 for p in venue.positions("me"))


async def test_keep_running_is_the_default(make_session: Callable[..., Session]) -> None:
    session = make_session(sim_config(unattended={"after_minutes": 1}))
    async with served(session) as server:
        assert server.unattended.config.policy == "keep_running"
        await session.run_for(120)
        await asyncio.sleep(0.2)
        assert server.unattended.acted == 0
        assert session.engine.runner("as_btc").state is StrategyState.RUNNING


async def test_launch_preview_params_and_fills_go_through_the_socket(
    make_session: Callable[..., Session],
) -> None:
    session = make_session(sim_config(journal={"enabled": True}))
    async with served(session) as server:
        await session.run_for(20)
        v = await viewer(server)
        try:
            params = {**AS_PARAMS, "size": "0.002", "gamma": "0.05"}
            planned = await v.preview("avellaneda_stoikov", "sim", "BTC-PERP", params)
            assert planned and all(p.size == Decimal("0.002") for p in planned)
            await v.add_strategy("as_two", "avellaneda_stoikov", "sim", "BTC-PERP", params)
            await v.start_strategy("as_two")
            assert session.engine.runner("as_two").state is StrategyState.RUNNING
            await until(lambda: v.view.strategy("as_two") is not None, what="published")
            change = await v.edit_param("as_two", "gamma", "0.07")
            assert change == "as_two: gamma 0.05 -> 0.07"
            assert session.engine.runner("as_two").params.gamma == 0.07  # type: ignore[attr-defined]
            session.engine.journal.flush()  # type: ignore[union-attr]
            fills = await v.journal_fills()
            assert len(fills) == len(session.engine.journal.fills())  # type: ignore[union-attr]
        finally:
            await v.detach()


async def test_a_second_server_on_a_served_socket_is_refused(
    make_session: Callable[..., Session],
) -> None:
    async with served(make_session()) as server:
        other = CoreServer(server.session, server.path, LogBuffer())
        with pytest.raises(SocketError, match="a core is already served there"):
            await other.start()


async def test_a_viewer_that_never_reads_is_dropped_and_the_core_never_waits(
    make_session: Callable[..., Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    import mmtui.remote.server as server_module

    monkeypatch.setattr(server_module, "MAX_BACKLOG", 64 * 1024)
    session = make_session()
    async with served(session) as server:
        stuck = await RawClient.open(server.path)  # says hello, then never reads again
        stuck.writer.transport.pause_reading()  # type: ignore[attr-defined]
        await until(lambda: len(server.viewers) == 1, what="attached")
        (theirs,) = server.viewers
        # small kernel buffers, so what it does not read piles up in the server's
        # transport soon (as it would on a slow link, given time)
        theirs.writer.get_extra_info("socket").setsockopt(SOL_SOCKET, SO_SNDBUF, 4096)
        stuck.writer.get_extra_info("socket").setsockopt(SOL_SOCKET, SO_RCVBUF, 4096)
        lively = await viewer(server)
        for _ in range(400):  # the core trades on; every state goes to both
            await session.run_for(0.5)
            await asyncio.sleep(0.01)
            if len(server.viewers) == 1:
                break
        assert [v.role for v in server.viewers] == ["viewer"] and lively.ended is None
        await lively.pause_strategy("as_btc")
        assert session.engine.runner("as_btc").state is StrategyState.PAUSED
        await lively.detach()
        stuck.close()
