"""Key loading: env, private key file, permission refusal, derivation, redaction."""

from __future__ import annotations

import base64
import logging
from pathlib import Path

import pytest

from connectors.backpack.keys import (
    BackpackKeyError,
    BackpackKeys,
    keys_from_env,
    keys_from_file,
    load_keys,
)

SECRET = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="
API_KEY = "ebVWLo/mVPlAeLES6KmLp5AfhTrmlb7X4OORC60ElmQ="


def _write(path: Path, text: str, mode: int) -> Path:
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def test_key_file_private_ok(tmp_path: Path) -> None:
    p = _write(tmp_path / "bp.yaml", f"api_key: {API_KEY}\napi_secret: {SECRET}\n", 0o600)
    keys = keys_from_file(p)
    assert keys.api_key == API_KEY
    assert load_keys(p).api_key == API_KEY  # type: ignore[union-attr]


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o602])
def test_key_file_readable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    p = _write(tmp_path / "bp.yaml", f"api_secret: {SECRET}\n", mode)
    with pytest.raises(BackpackKeyError) as info:
        keys_from_file(p)
    msg = str(info.value)
    assert str(p) in msg
    assert f"chmod 600 {p}" in msg
    assert SECRET not in msg


def test_key_file_missing_or_malformed(tmp_path: Path) -> None:
    with pytest.raises(BackpackKeyError, match="does not exist"):
        keys_from_file(tmp_path / "nope.yaml")
    p = _write(tmp_path / "bad.yaml", "api_key: x\n", 0o600)
    with pytest.raises(BackpackKeyError, match="api_secret"):
        keys_from_file(p)
    p = _write(tmp_path / "broken.yaml", f"api_secret: [{SECRET}\n", 0o600)
    with pytest.raises(BackpackKeyError) as info:
        keys_from_file(p)
    assert SECRET not in str(info.value)


def test_public_key_derived_when_absent(tmp_path: Path) -> None:
    p = _write(tmp_path / "bp.yaml", f"api_secret: {SECRET}\n", 0o600)
    assert keys_from_file(p).api_key == API_KEY


def test_64_byte_secret_uses_the_seed() -> None:
    seed = base64.b64decode(SECRET)
    long_secret = base64.b64encode(seed + base64.b64decode(API_KEY)).decode()
    assert BackpackKeys(long_secret).api_key == API_KEY


def test_mismatched_api_key_refused() -> None:
    other = base64.b64encode(bytes(32)).decode()
    with pytest.raises(BackpackKeyError, match="does not match") as info:
        BackpackKeys(SECRET, other)
    assert SECRET not in str(info.value)


def test_bad_secret_messages_hold_no_secret() -> None:
    with pytest.raises(BackpackKeyError, match="base64"):
        BackpackKeys("not base64!!")
    short = base64.b64encode(b"x" * 16).decode()
    with pytest.raises(BackpackKeyError, match="32") as info:
        BackpackKeys(short)
    assert short not in str(info.value)


def test_env() -> None:
    assert keys_from_env({}) is None
    keys = keys_from_env({"BACKPACK_API_SECRET": SECRET})
    assert keys is not None and keys.api_key == API_KEY
    keys = keys_from_env({"BACKPACK_API_SECRET": SECRET, "BACKPACK_API_KEY": API_KEY})
    assert keys is not None and keys.api_key == API_KEY
    with pytest.raises(BackpackKeyError, match="BACKPACK_API_SECRET"):
        keys_from_env({"BACKPACK_API_KEY": API_KEY})
    assert load_keys(None, {"BACKPACK_API_SECRET": SECRET}) is not None


def test_repr_and_str_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    keys = BackpackKeys(SECRET)
    for text in (repr(keys), str(keys), f"{keys}", f"{keys!r}", repr([keys])):
        assert SECRET not in text
        assert "redacted" in text
    with caplog.at_level(logging.INFO):
        logging.getLogger("t").info("keys %s %r", keys, keys)
    assert SECRET not in caplog.text
    assert keys.secret_values() == (SECRET,)
    assert not hasattr(keys, "__dict__")  # no vars(keys) leak
