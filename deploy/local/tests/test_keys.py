"""The local stack's generated admin key: once, hashed, and not when keys or the dev switch are set."""

from __future__ import annotations

import hashlib
import json
import stat
from pathlib import Path

from deploy.local.keys import KEYS_FILE, ensure_admin_key, ensure_internal_token


def test_generated_once_and_stored_as_a_hash(tmp_path: Path) -> None:
    env, key = ensure_admin_key(tmp_path, {})
    assert key is not None and key.startswith("labs_")
    path = tmp_path / KEYS_FILE
    assert env == {"LABS_API_KEYS_FILE": str(path)}
    text = path.read_text()
    assert key not in text
    entry = json.loads(text)["keys"][0]
    assert entry == {
        "name": "local-admin",
        "role": "admin",
        "sha256": hashlib.sha256(key.encode()).hexdigest(),
    }
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again, key2 = ensure_admin_key(tmp_path, {})
    assert (again, key2) == (env, None)  # a second start prints no key and keeps the file


def test_nothing_generated_with_keys_or_the_dev_switch(tmp_path: Path) -> None:
    for env in ({"LABS_AUTH_DISABLED": "true"}, {"LABS_API_KEYS": "a:admin:k"}, {"LABS_API_KEYS_FILE": "/x"}):
        assert ensure_admin_key(tmp_path, env) == ({}, None)
    assert not (tmp_path / KEYS_FILE).exists()


def test_the_internal_token_is_generated_once_owner_only_and_an_environment_one_wins(tmp_path: Path) -> None:
    first = ensure_internal_token(tmp_path, {})
    token = first["LABS_INTERNAL_TOKEN"]
    assert len(token) >= 32
    assert (tmp_path / "internal-token").stat().st_mode & 0o777 == 0o600
    assert ensure_internal_token(tmp_path, {}) == first  # a restart keeps the secret
    assert ensure_internal_token(tmp_path, {"LABS_INTERNAL_TOKEN": "given-secret-xxxxxxxx"}) == {}
