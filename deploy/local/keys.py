"""The local stack's secrets: its first admin API key (generated once, stored as a hash, shown
once) and the services' shared LABS_INTERNAL_TOKEN (generated once, kept in the data dir)."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

KEYS_FILE = "api-keys.json"
INTERNAL_TOKEN_FILE = "internal-token"
ADMIN_NAME = "local-admin"


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def ensure_admin_key(data_dir: Path, env: Mapping[str, str]) -> tuple[dict[str, str], str | None]:
    """The variables the gateway needs, and the plain key if it was generated just now.

    Nothing is generated when keys are configured (LABS_API_KEYS / LABS_API_KEYS_FILE) or when
    LABS_AUTH_DISABLED is set; otherwise `<data>/api-keys.json` holds the key's SHA-256 only.
    """
    if _truthy(env.get("LABS_AUTH_DISABLED")) or env.get("LABS_API_KEYS") or env.get("LABS_API_KEYS_FILE"):
        return {}, None
    path = data_dir / KEYS_FILE
    if path.exists():
        return {"LABS_API_KEYS_FILE": str(path)}, None
    key = "labs_" + secrets.token_urlsafe(32)
    entry = {"name": ADMIN_NAME, "role": "admin", "sha256": hashlib.sha256(key.encode()).hexdigest()}
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"keys": [entry]}, f, indent=2)
    return {"LABS_API_KEYS_FILE": str(path)}, key


def ensure_internal_token(data_dir: Path, env: Mapping[str, str]) -> dict[str, str]:
    """LABS_INTERNAL_TOKEN for the services: the environment's, else `<data>/internal-token`
    (created once, readable by its owner only), so a restarted stack keeps its secret."""
    if env.get("LABS_INTERNAL_TOKEN"):
        return {}
    path = data_dir / INTERNAL_TOKEN_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(32))
    return {"LABS_INTERNAL_TOKEN": path.read_text().strip()}
