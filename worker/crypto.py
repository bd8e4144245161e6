"""AES-256-GCM encryption of tokens at rest, with key ids so keys can rotate: refresh tokens
in Postgres, and the LWA access tokens cached in Redis (:mod:`worker.spapi.auth`).

Keys come from ``SPSYNC_TOKEN_KEYS`` (``kid:base64key,...``; the first one encrypts). In
embedded mode with no keys configured, a random key is created once under the data dir so a
laptop demo still never stores a plaintext token.
"""

from __future__ import annotations

import base64
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from worker.config import ConfigError, Settings

NONCE_BYTES = 12


@dataclass(frozen=True)
class Keyring:
    keys: dict[str, bytes] = field(repr=False)
    primary: str

    def encrypt(self, plaintext: str, aad: str) -> tuple[bytes, str]:
        """Return (nonce || ciphertext, key id). ``aad`` binds the value to its row."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self.keys[self.primary]).encrypt(nonce, plaintext.encode(), aad.encode())
        return nonce + sealed, self.primary

    def decrypt(self, blob: bytes, kid: str, aad: str) -> str:
        key = self.keys.get(kid)
        if key is None:
            raise ConfigError(f"token key {kid!r} is not in SPSYNC_TOKEN_KEYS")
        return AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad.encode()).decode()


def parse_keys(spec: str) -> Keyring:
    keys: dict[str, bytes] = {}
    for part in (p.strip() for p in spec.split(",") if p.strip()):
        kid, sep, b64 = part.partition(":")
        if not sep or not kid:
            raise ConfigError("SPSYNC_TOKEN_KEYS entries must look like kid:base64key")
        try:
            key = base64.b64decode(b64, validate=True)
        except ValueError:
            raise ConfigError(f"SPSYNC_TOKEN_KEYS key {kid!r} is not valid base64") from None
        if len(key) != 32:
            raise ConfigError(f"SPSYNC_TOKEN_KEYS key {kid!r} must be 32 bytes (AES-256)")
        keys[kid] = key
    if not keys:
        raise ConfigError("SPSYNC_TOKEN_KEYS is empty")
    return Keyring(keys, next(iter(keys)))


def new_key_spec(kid: str = "k1") -> str:
    return f"{kid}:{base64.b64encode(secrets.token_bytes(32)).decode()}"


def keyring(settings: Settings) -> Keyring:
    """The configured keyring; in embedded mode a local key file stands in."""
    if settings.token_keys is not None:
        return parse_keys(settings.token_keys.get_secret_value())
    if settings.database_url is not None:
        raise ConfigError("SPSYNC_TOKEN_KEYS must be set when DATABASE_URL is set "
                          "(see .env.example for how to generate a key)")
    path = Path(settings.data_dir) / "token.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(new_key_spec("local1"))
        path.chmod(0o600)
    return parse_keys(path.read_text().strip())


def keyring_spec(settings: Settings) -> str:
    """The key spec to hand child processes so they decrypt what this process encrypted."""
    if settings.token_keys is not None:
        return settings.token_keys.get_secret_value()
    if settings.database_url is None:
        keyring(settings)  # creates the local key file on first use
        return (Path(settings.data_dir) / "token.key").read_text().strip()
    raise ConfigError("SPSYNC_TOKEN_KEYS must be set when DATABASE_URL is set")
