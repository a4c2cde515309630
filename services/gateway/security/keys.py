"""API keys: loaded from a file or the environment, kept only as SHA-256 hashes.

File (LABS_API_KEYS_FILE), JSON or TOML:
    {"keys": [{"name": "ci", "role": "operator", "sha256": "<hex of sha256(key)>"}]}
    [[keys]]  name = "ci"  role = "operator"  sha256 = "..."
Environment (LABS_API_KEYS): "name:role:key,name:role:key" — hashed at load, the plain key dropped.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labs_core.auth import ROLES


class KeyConfigError(ValueError):
    """The key configuration cannot be read; the message names the entry."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the key's name (the actor of what it causes) and its role."""

    name: str
    role: str


def hash_key(key: str) -> str:
    """The stored form of a key: the hex SHA-256 of its UTF-8 bytes."""
    return hashlib.sha256(key.encode()).hexdigest()


class KeyStore:
    """Hash -> principal. Looking a key up hashes it once; the SHA-256 digest lookup is the check."""

    __slots__ = ("_by_hash",)

    def __init__(self, entries: dict[str, Principal] | None = None) -> None:
        self._by_hash: dict[str, Principal] = dict(entries or {})

    def __len__(self) -> int:
        return len(self._by_hash)

    def add(self, name: str, role: str, sha256: str, where: str = "") -> None:
        """Add one key by its hash; an unknown role or a malformed hash is a KeyConfigError."""
        at = f" ({where})" if where else ""
        if not name or ":" in name or not name.isprintable():
            raise KeyConfigError(f"api key name {name!r}{at}: expected a printable name without ':'")
        if role not in ROLES:
            raise KeyConfigError(f"api key {name!r}{at}: role {role!r} is not one of {', '.join(ROLES)}")
        digest = sha256.lower()
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise KeyConfigError(f"api key {name!r}{at}: sha256 must be 64 hex digits")
        if digest in self._by_hash:
            raise KeyConfigError(f"api key {name!r}{at}: the same key is configured twice")
        self._by_hash[digest] = Principal(name, role)

    def lookup(self, key: str) -> Principal | None:
        """The principal of a presented key, or None."""
        return self._by_hash.get(hash_key(key))

    @classmethod
    def from_env_value(cls, value: str, store: KeyStore | None = None) -> KeyStore:
        """Parse "name:role:key,..." (the keys are hashed here and not kept)."""
        store = store if store is not None else cls()
        for i, item in enumerate(p.strip() for p in value.split(",")):
            if not item:
                continue
            parts = item.split(":", 2)
            if len(parts) != 3 or not parts[2]:
                raise KeyConfigError(f"LABS_API_KEYS entry {i + 1}: expected name:role:key")
            store.add(parts[0], parts[1], hash_key(parts[2]), f"LABS_API_KEYS entry {i + 1}")
        return store

    @classmethod
    def from_file(cls, path: Path, store: KeyStore | None = None) -> KeyStore:
        """Read a JSON or TOML key file ({"keys": [{name, role, sha256}]})."""
        store = store if store is not None else cls()
        try:
            text = path.read_text()
        except OSError as e:
            raise KeyConfigError(f"LABS_API_KEYS_FILE {path}: {e.strerror}") from e
        try:
            data: Any = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
        except (ValueError, tomllib.TOMLDecodeError) as e:
            raise KeyConfigError(f"LABS_API_KEYS_FILE {path}: {e}") from e
        entries = data.get("keys") if isinstance(data, dict) else data
        if not isinstance(entries, list):
            raise KeyConfigError(f"LABS_API_KEYS_FILE {path}: expected a list under 'keys'")
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict) or not all(
                isinstance(entry.get(k), str) for k in ("name", "role", "sha256")
            ):
                raise KeyConfigError(
                    f"LABS_API_KEYS_FILE {path}: keys[{i}] needs name, role and sha256 strings"
                )
            store.add(entry["name"], entry["role"], entry["sha256"], f"{path} keys[{i}]")
        return store
