"""Lighter keys: env vars, a private key file, clear refusals, no secret in messages."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from connectors.lighter.keys import LighterKeyError, keys_from_env, keys_from_file, load_keys

PRIV = "0x" + "ab" * 40


def _write(path: Path, data: object, mode: int = 0o600) -> Path:
    path.write_text(yaml.safe_dump(data))
    os.chmod(path, mode)
    return path


def test_env_keys() -> None:
    env = {
        "LIGHTER_ACCOUNT_INDEX": "4242",
        "LIGHTER_API_KEY_INDEX": "3",
        "LIGHTER_API_PRIVATE_KEY": PRIV[2:],
    }
    keys = keys_from_env(env)
    assert keys is not None
    assert (keys.account_index, keys.api_key_index, keys.private_key) == (4242, 3, PRIV)
    assert PRIV[2:] not in repr(keys) and "redacted" in repr(keys)
    assert keys_from_env({}) is None


def test_env_partial_is_refused_by_name() -> None:
    with pytest.raises(LighterKeyError, match="LIGHTER_API_PRIVATE_KEY"):
        keys_from_env({"LIGHTER_ACCOUNT_INDEX": "1", "LIGHTER_API_KEY_INDEX": "3"})


def test_key_file(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "k.yaml", {"account_index": 7, "api_key_index": 4, "api_private_key": PRIV}
    )
    keys = load_keys(path)
    assert keys is not None and keys.account_index == 7 and keys.api_key_index == 4


def test_world_readable_key_file_refused(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "k.yaml",
        {"account_index": 7, "api_key_index": 4, "api_private_key": PRIV},
        mode=0o644,
    )
    with pytest.raises(LighterKeyError, match="chmod 600"):
        keys_from_file(path)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"account_index": 7, "api_key_index": 4}, "api_private_key"),
        ({"account_index": 7, "api_key_index": 1, "api_private_key": PRIV}, "api_key_index"),
        ({"account_index": "x", "api_key_index": 4, "api_private_key": PRIV}, "account_index"),
        ({"account_index": 7, "api_key_index": 4, "api_private_key": "0x1234"}, "40 bytes"),
    ],
)
def test_bad_key_files_named(tmp_path: Path, data: dict, match: str) -> None:
    path = _write(tmp_path / "k.yaml", data)
    with pytest.raises(LighterKeyError, match=match) as err:
        keys_from_file(path)
    assert PRIV[2:] not in str(err.value)
