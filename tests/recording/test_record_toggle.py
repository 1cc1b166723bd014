"""The console's record toggle: the engine records the books and trades in use while
it is on; the status bar says REC (Textual pilot)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from connectors.replay.tardis import discover, read_all_book
from mmtui.app import MMApp
from mmtui.core.recorder import RecordSummary
from mmtui.logsetup import LogBuffer
from mmtui.session import Session
from tests.conftest import sim_config
from tests.recording.rebuild import book_sides, rebuild, snapshots


async def test_the_engine_records_the_markets_in_use(
    make_session: Callable[..., Session], tmp_path: Path
) -> None:
    session = make_session(sim_config(strategies=[], record={"dir": str(tmp_path / "rec")}))
    await session.start()
    try:
        await session.engine.subscribe([("sim", "BTC-PERP")])
        await session.run_for(2)
        out = session.toggle_recording()
        assert isinstance(out, Path) and out.parent == tmp_path / "rec"
        assert session.engine.view.header().recording == out
        await session.run_for(20)
        await asyncio.sleep(0)
        book = session.engine.book("sim", "BTC-PERP")
        assert book is not None
        at_stop = book_sides(book)
        done = session.toggle_recording()
        assert isinstance(done, RecordSummary)
        assert session.engine.view.header().recording is None
        await session.run_for(2)  # nothing is written once off
    finally:
        await session.stop()
    assert done.gaps == 0 and done.book_rows > 0 and done.trade_rows > 0
    (ds,) = discover(out)
    assert (ds.exchange, ds.symbol) == ("sim", "BTC-PERP")  # the venue's type names it
    rows = list(read_all_book(ds.book_files))
    assert snapshots(rows) == 1
    assert rebuild(rows) == at_stop
    assert sum(1 for _ in read_all_book(ds.book_files)) == done.book_rows


async def test_the_record_key_shows_rec_in_the_status_bar(
    make_session: Callable[..., Session], tmp_path: Path
) -> None:
    session = make_session(sim_config(record={"dir": str(tmp_path / "rec")}))
    await session.start()
    app = MMApp(session, LogBuffer())
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await session.run_for(2)
            await pilot.pause(0.2)
            app.main.render_panes()
            assert "REC" not in app.export_screenshot()
            await pilot.press("r")
            await session.run_for(5)
            await pilot.pause(0.2)
            app.main.render_panes()
            await pilot.pause()
            assert "REC" in app.export_screenshot()
            assert session.engine.recording.active
            await pilot.press("r")
            await pilot.pause(0.2)
            app.main.render_panes()
            await pilot.pause()
            assert "REC" not in app.export_screenshot()
    finally:
        await session.stop()
    (folder,) = (tmp_path / "rec").iterdir()
    (ds,) = discover(folder)
    assert ds.symbol == "BTC-PERP" and list(read_all_book(ds.book_files))
