"""The ``rig`` fixture: each contract test runs once per venue in ``RIGS``."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.contract.rig import VenueRig
from tests.contract.rigs import RIGS


@pytest.fixture(params=sorted(RIGS))
async def rig(request: pytest.FixtureRequest) -> AsyncIterator[VenueRig]:
    venue_rig = RIGS[request.param]()
    await venue_rig.start()
    try:
        yield venue_rig
    finally:
        await venue_rig.stop()
