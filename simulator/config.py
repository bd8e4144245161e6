"""The simulator's knobs: one frozen value, passed in, never read from the environment."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SimConfig:
    """How big the fake world is and how fast simulated time runs.

    ``time_scale`` speeds up everything Amazon measures in time *except* timestamps:
    quota refill (rate x time_scale), the "two minutes before now" rule (120 s /
    time_scale), pagination-token lifetime (24 h / time_scale), report processing
    (``report_delay_seconds`` / time_scale) and report-document URL lifetime (5 min /
    time_scale). Order timestamps stay real UTC so a mirror built against the simulator
    looks like one built against Amazon.
    """

    sellers: int = 3
    orders_per_seller: int = 200
    seed: int = 1
    time_scale: float = 1.0
    changes_per_minute: float = 0.0
    history_days: int = 30
    token_ttl_seconds: int = 3600
    items_page_size: int = 100
    report_delay_seconds: float = 30.0
    catalog_size: int = 0  # SKUs per seller; 0 = seeded between 40 and 80
    eu_marketplaces: int = 1  # EU sellers sell in the first 1-4 of DE, FR, IT, ES
    # Where notifications go: an SQS endpoint (e.g. moto's server); each destination's
    # queue is found there by the name in its arn. None: messages are counted as failed,
    # never sent to real AWS. The defaults are the dummy credentials moto accepts.
    sqs_endpoint_url: str | None = None
    sqs_region: str = "us-east-1"
    sqs_access_key_id: str = "testing"
    sqs_secret_access_key: str = field(default="testing", repr=False)

    def __post_init__(self) -> None:
        if self.sellers < 1:
            raise ValueError("sellers must be at least 1")
        if self.orders_per_seller < 0:
            raise ValueError("orders_per_seller must not be negative")
        if self.time_scale <= 0:
            raise ValueError("time_scale must be positive")
        if self.changes_per_minute < 0:
            raise ValueError("changes_per_minute must not be negative")
        if self.history_days < 1 or self.token_ttl_seconds < 1 or self.items_page_size < 1:
            raise ValueError("history_days, token_ttl_seconds and items_page_size must be >= 1")
        if self.report_delay_seconds < 0 or self.catalog_size < 0:
            raise ValueError("report_delay_seconds and catalog_size must not be negative")
        if not 1 <= self.eu_marketplaces <= 4:
            raise ValueError("eu_marketplaces must be between 1 and 4")

    @property
    def lag_seconds(self) -> float:
        """How far before now a ``*Before`` bound must be (Amazon: two minutes)."""
        return 120.0 / self.time_scale

    @property
    def pagination_ttl_seconds(self) -> float:
        """Lifetime of a pagination token (Amazon: 24 hours)."""
        return 86_400.0 / self.time_scale

    @property
    def report_delay(self) -> float:
        """How long a report takes from createReport to DONE, in simulated seconds."""
        return self.report_delay_seconds / self.time_scale

    @property
    def document_url_ttl(self) -> float:
        """Lifetime of a report document's presigned URL (Amazon: 5 minutes)."""
        return 300.0 / self.time_scale

    @property
    def inventory_token_ttl(self) -> float:
        """Lifetime of a getInventorySummaries nextToken (model: 30 seconds).

        Floored at 2 s of real time so a busy test machine at a high time_scale does not
        see spurious expiries between two back-to-back page requests."""
        return max(30.0 / self.time_scale, 2.0)
