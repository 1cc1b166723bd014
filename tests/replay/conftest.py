"""The replay tests' recorded session (a sim venue's feed as Tardis files), made once."""

from __future__ import annotations

import pytest

from .recording import Recording, record_sim


@pytest.fixture(scope="session")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Recording:
    return record_sim(tmp_path_factory.mktemp("rec"), seconds=20)
