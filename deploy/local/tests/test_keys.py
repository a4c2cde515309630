"""The local stack's generated admin key: once, hashed, and not when keys or the dev switch are set."""

from __future__ import annotations

import hashlib
import json
import stat
from pathlib import Path

from deploy.local.keys import KEYS_FILE, ensure_admin_key


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
