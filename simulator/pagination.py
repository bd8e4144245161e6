"""Opaque, signed, expiring pagination tokens.

A token is base64url(HMAC-SHA256[:16] ‖ JSON). The JSON carries the seller, the
operation, an expiry and whatever state the operation needs (for orders: the frozen
filters and the last (sort key, id) returned — keyset, so an order that changes and
leaves the window between pages never makes another one be skipped). The key is
derived from the seed, so a restarted simulator with the same seed still accepts its
own tokens.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any

from .clock import Clock
from .errors import invalid_input

_MAC_BYTES = 16


class TokenCodec:
    def __init__(self, seed: int, clock: Clock, ttl_seconds: float) -> None:
        self._key = hashlib.sha256(f"spsync-simulator-pagination:{seed}".encode()).digest()
        self._clock = clock
        self._ttl = ttl_seconds

    def encode(
        self, seller_id: str, operation: str, state: dict[str, Any], ttl: float | None = None
    ) -> str:
        """A token for ``state``; ``ttl`` overrides the codec's lifetime (seconds)."""
        expires = self._clock.now() + (self._ttl if ttl is None else ttl)
        body = {"s": seller_id, "o": operation, "e": expires, "d": state}
        payload = json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
        blob = self._mac(payload) + payload
        return base64.urlsafe_b64encode(blob).rstrip(b"=").decode()

    def decode(self, token: str, seller_id: str, operation: str, param: str) -> dict[str, Any]:
        """The state put in by :meth:`encode`, or 400 naming ``param``."""
        body = self._verified(token, param)
        if body.get("s") != seller_id or body.get("o") != operation:
            raise invalid_input(f"'{param}' was not issued for this operation and seller.")
        if self._clock.now() > float(body["e"]):
            raise invalid_input(f"'{param}' has expired; start the query again.")
        state: dict[str, Any] = body["d"]
        return state

    def _verified(self, token: str, param: str) -> dict[str, Any]:
        try:
            blob = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            raise invalid_input(f"'{param}' is not a valid token.") from None
        mac, payload = blob[:_MAC_BYTES], blob[_MAC_BYTES:]
        if len(mac) < _MAC_BYTES or not hmac.compare_digest(mac, self._mac(payload)):
            raise invalid_input(f"'{param}' is not a valid token.")
        body: dict[str, Any] = json.loads(payload)
        return body

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:_MAC_BYTES]
