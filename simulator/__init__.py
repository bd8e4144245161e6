"""A deterministic, in-memory Amazon SP-API + LWA simulator (aiohttp).

Serves Orders v0 ``getOrders``/``getOrderItems``, 2026-01-01 ``searchOrders``/
``getOrder``, FBA Inventory ``getInventorySummaries``, Listings Items
``getListingsItem``/``searchListingsItems`` and Reports 2021-06-30 (``createReport``,
``getReports``, ``getReport``, ``cancelReport``, ``getReportDocument`` plus the presigned
document downloads) exactly as Amazon's models in ``worker/spapi_models`` describe them,
with the models' quotas, LWA token exchange, keyset pagination tokens, a background
stream of order, stock and listing changes and injectable faults; ``/_sim/*`` exposes
controls and ground truth. It plays Amazon, so of spsync it imports Amazon's vendored models
only (``worker.spapi_models``; an import-linter contract in ``pyproject.toml``), besides the
standard library, aiohttp and boto3 (the SQS publisher). Not part of the service: nothing in
``worker``, ``tasks`` or ``schedules`` imports it.

Modules: config (SimConfig) · app (create_app/serve/run) · state (one simulator) ·
gateway (auth → faults → quota → validate → handler) · spec (operations from the models)
· validation · bodies (request bodies) · windows (time-window queries) · pagination
(signed tokens) · quotas · lwa · orders_v0 · orders_2026 · inventory · listings ·
listing_render · reports (lifecycle) · reports_api · report_content (flat files) ·
sales_traffic · bigreport (synthetic documents) · documents (recipes, signed URLs) ·
downloads (the "S3" route) · control (/_sim) · faults · errors · world · generate ·
catalog · catalog_gen · mutations · catalog_changes · merchant_stock (MFN stock and sales) ·
marketplaces · clock.
"""

from __future__ import annotations

from .app import create_app, run, serve
from .config import SimConfig

__all__ = ["SimConfig", "create_app", "run", "serve"]
