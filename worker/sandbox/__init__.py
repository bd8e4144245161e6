"""A deterministic, in-memory Amazon SP-API + LWA simulator (aiohttp).

Serves Orders v0 ``getOrders``/``getOrderItems`` and 2026-01-01 ``searchOrders``/
``getOrder`` exactly as Amazon's models in ``worker/spapi_models`` describe them, with
the models' quotas, LWA token exchange, keyset pagination tokens, a background stream of
order changes and injectable faults; ``/_sim/*`` exposes controls and ground truth.
Imports only the standard library and aiohttp.

Modules: config (SimConfig) · app (create_app/serve/run) · state (one simulator) ·
gateway (auth → faults → quota → validate → handler) · spec (operations from the models)
· validation · windows (time-window queries) · pagination (signed tokens) · quotas ·
lwa · orders_v0 · orders_2026 · control (/_sim) · faults · errors · world · generate ·
mutations · marketplaces · clock.
"""

from __future__ import annotations

from .app import create_app, run, serve
from .config import SimConfig

__all__ = ["SimConfig", "create_app", "run", "serve"]
