"""The simulator's knobs: one frozen value, passed in, never read from the environment."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SimConfig:
    """How big the fake world is and how fast simulated time runs.

    ``time_scale`` speeds up everything Amazon measures in time *except* timestamps:
    quota refill (rate x time_scale), the "two minutes before now" rule (120 s /
    time_scale) and pagination-token lifetime (24 h / time_scale). Order timestamps stay
    real UTC so a mirror built against the simulator looks like one built against Amazon.
    """

    sellers: int = 3
    orders_per_seller: int = 200
    seed: int = 1
    time_scale: float = 1.0
    changes_per_minute: float = 0.0
    history_days: int = 30
    token_ttl_seconds: int = 3600
    items_page_size: int = 100

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

    @property
    def lag_seconds(self) -> float:
        """How far before now a ``*Before`` bound must be (Amazon: two minutes)."""
        return 120.0 / self.time_scale

    @property
    def pagination_ttl_seconds(self) -> float:
        """Lifetime of a pagination token (Amazon: 24 hours)."""
        return 86_400.0 / self.time_scale
