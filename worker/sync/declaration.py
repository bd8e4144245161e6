"""What a stream kind declares: one frozen :class:`StreamKind` per kind of stream.

The declarations themselves are in :mod:`worker.sync.registry`; everything that needs a
stream fact (the plan of a run, the dispatcher's rows, ``status``, metrics, notification
refreshes, ``backfill``, the docs' table of streams) reads them, never a stream's name.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from worker.config import ConfigError, Settings, StreamSettings
from worker.sync.endpoint import Endpoint, StreamSpec
from worker.sync.windows import WindowPolicy

EVERYTHING = timedelta(days=36500)  # a window span that never splits a run's window
_NAME = re.compile(r"[a-z][a-z0-9-]*")  # a kind's name (also in SQL: keep it this plain)
_TABLE = re.compile(r"[a-z][a-z0-9_]*")
# knob (worker.config.STREAM_KNOBS) -> (Tuning field, timedelta unit); None: a plain number
UNITS: dict[str, tuple[str, str | None]] = {
    "interval_seconds": ("interval", "seconds"), "lag_seconds": ("lag", "seconds"),
    "overlap_seconds": ("overlap", "seconds"), "max_window_hours": ("max_span", "hours"),
    "initial_days": ("initial", "days"), "page_size": ("page_size", None),
    "period": ("period", None),
}


class UnknownStreamError(ValueError):
    pass


@dataclass(frozen=True)
class Tuning:
    """When a kind runs and which windows it asks for. The knobs named in ``tunable`` can be
    set per deployment as ``SPSYNC_<KIND>_<KNOB>`` (e.g. ``SPSYNC_ORDERS_LAG_SECONDS``)."""

    interval: timedelta  # how often each stream of the kind is synced
    overlap: timedelta  # a window starts this long before the cursor
    page_size: int
    lag: timedelta = timedelta(0)  # a window ends this long before the run's start
    max_span: timedelta = EVERYTHING  # longer windows are split
    initial: timedelta = timedelta(days=3650)  # how far back a first sync reaches
    max_page_size: int | None = None  # what the operation accepts (checks a set page size)
    tunable: tuple[str, ...] = ("interval_seconds", "overlap_seconds")
    # A kind read in whole reporting periods (``ReportStream.periods``): which one.
    period: str | None = None

    @property
    def policy(self) -> WindowPolicy:
        return WindowPolicy(self.lag, self.overlap, self.max_span, self.initial, self.period)

    def tuned(self, knobs: StreamSettings, env_prefix: str) -> Tuning:
        """These defaults with the deployment's settings for the tunable knobs."""
        values: dict[str, Any] = {}
        for knob in self.tunable:
            value = getattr(knobs, knob)
            if value is not None:
                name, unit = UNITS[knob]
                values[name] = value if unit is None else timedelta(**{unit: value})
        size = values.get("page_size", self.page_size)
        if self.max_page_size is not None and size > self.max_page_size:
            raise ConfigError(f"invalid {env_prefix}PAGE_SIZE: at most {self.max_page_size}")
        return dataclasses.replace(self, **values)


@dataclass(frozen=True)
class Backfill:
    """How the Reports API fills a kind's history (``celery -A worker backfill``)."""

    report_type: str
    window: timedelta | None = None  # history from --since in windows this long; None: snapshot
    per_marketplace: bool = True  # one report per marketplace, else one for all of them
    options: tuple[tuple[str, str], ...] = ()  # reportOptions
    history: timedelta = timedelta(days=730)  # how far back Amazon keeps the data
    # Marketplaces whose history reaches back further (all of a seller's must be), and from when.
    older_markets: frozenset[str] = frozenset()
    older_start: datetime | None = None
    hands_over: bool = False  # a complete backfill moves the kind's API cursor up to its end
    # Whole reporting periods instead of windows (Brand Analytics): one report per period of
    # this ``reportPeriod`` that starts on or after --since and was published (``published``
    # after its end) by --until.
    period: str | None = None
    published: timedelta = timedelta(0)
    # Several reports a period and marketplace, one per batch of extra reportOptions
    # (search query performance: its ``asin`` lists), read from the mirror (as
    # ``ReportStream.batches``): (conn, seller id, marketplace) -> each batch's options.
    batches: Callable[[Any, int, str], list[tuple[tuple[str, str], ...]]] | None = None


@dataclass(frozen=True)
class ApiBackfill:
    """``backfill`` through the kind's own API, for a kind Amazon has no history report for
    (finances, payouts, settlements, order metrics): its incremental sync's windows from
    ``--since`` to ``--until``, checkpointed in ``api_backfills``
    (:mod:`worker.sync.api_backfill`)."""

    # How far back the API reaches (e.g. getReports: 90 days); None: the model states no limit.
    history: timedelta | None = None
    # Consecutive windows of a backfill overlap by this much (a row posted on a boundary);
    # the look-back re-read of an incremental run is not needed within one backfill.
    overlap: timedelta = timedelta(minutes=1)
    # Windows at most this long (also capped by the kind's ``max_span``): shorter windows
    # cost a page each at most, and move the progress shown along.
    window: timedelta | None = None


@dataclass(frozen=True)
class ReportStream:
    """A kind read by asking Amazon for a report on every run (``worker/sync/report_stream.py``):
    Amazon back-dates these reports' rows, so each run asks from its cursor minus the kind's
    ``overlap`` (its look-back) up to now minus its ``lag``, in windows of at most its
    ``max_span``; the report type's sink (``report_types.sink_for``) writes the rows, newer-wins
    or keyed by report and line."""

    report_type: str
    options: tuple[tuple[str, str], ...] = ()  # reportOptions
    windowed: bool = True  # dataStartTime/dataEndTime from the window; False: a snapshot
    # One report per UTC day the window touches (sales and traffic: a report's per-ASIN
    # figures add up its whole date range, so only a one-day report gives them a day).
    daily: bool = False
    # Whole reporting periods (Brand Analytics): the ``reportPeriod`` values the report type
    # takes; the kind's ``tuning.period`` (``SPSYNC_<KIND>_PERIOD``) picks one. A run asks for
    # each period that ended at least ``tuning.lag`` ago (Amazon publishes it then) after the
    # cursor, a first run for the last ``first_reach`` (``worker/sync/periods.py``).
    periods: tuple[str, ...] = ()
    first_reach: int = 4
    # Several reports a period, one per batch: (conn, seller id, marketplace) -> the extra
    # reportOptions of each (search query performance: its ``asin`` lists).
    batches: Callable[[Any, int, str], list[tuple[tuple[str, str], ...]]] | None = None
    # A FATAL report whose error text matches this (re.search, case-insensitive) means Amazon
    # refuses the seller the report type: the stream is disabled as for a 403 Unauthorized,
    # not retried every run.
    refusal: str | None = None
    # A FATAL report whose error text matches this says the period is not published yet
    # (Amazon was later than ``tuning.lag``): the run ends there, succeeded (the report's row
    # keeps Amazon's answer), and the next run asks for the period again.
    unpublished: str | None = None


@dataclass(frozen=True)
class Refresh:
    """A kind kept fresh by reading known keys again in batches, not by windows (catalog items
    of the ASINs a seller lists or sold): ``worker/sync/refresh_run.py``. Each run reads, in
    batches of ``batch``, the keys ``due`` names (missing, or read longer than the kind's
    ``tuning.overlap`` ago: its maximum age), until none is left. Ages are measured on the
    run's clock, and ``write`` records each key read at it."""

    operation: str
    # (conn, seller id, marketplace, read before, limit) -> keys to read now
    due: Callable[[Any, int, str, datetime, int], list[str]]
    query: Callable[[Any, str, list[str]], dict[str, Any]]  # (seller, marketplace, keys)
    records: tuple[str, ...]
    rows: Callable[[Any, str, list[str], list[Any]], Any]  # (seller, market, keys, records)
    write: Callable[[Any, int, Any, datetime], Any]  # (conn, seller id, rows, at) -> Written
    batch: int
    # A batch operation sent as a POST takes its keys in a body (seller, marketplace, keys);
    # ``query`` then gives the query string (usually none).
    body: Callable[[Any, str, list[str]], Any] | None = None
    # The kinds whose rows name the keys (catalog: listings and orders). A run waits until
    # the seller's streams of these kinds (this marketplace's, for a kind per marketplace)
    # have synced once, or been refused: a new seller's first refresh would find no key and
    # then sleep a whole interval. A waiting run asks nothing and comes due again soon.
    after: tuple[str, ...] = ()


@dataclass(frozen=True)
class Children:
    """Rows a kind writes beside its own (order items), counted by ``status``."""

    table: str
    label: str


@dataclass(frozen=True)
class StreamKind:
    """One kind of stream. ``sync_state.stream`` is its ``name``, or
    ``<name>:<marketplaceId>`` for a kind split per marketplace. The name is also its label
    in ``status`` and metrics (bounded values)."""

    name: str
    table: str  # what its rows go to
    key: tuple[str, ...]  # that table's primary key
    # What it pages through; None: no incremental sync (a report-only kind, for backfill).
    endpoint: Endpoint[Any] | None = None
    # Another endpoint for sellers on another API version: the ``sellers`` column named by
    # ``version_setting`` holds the seller's version (:meth:`SellerRecord.api_version`).
    by_api_version: Mapping[str, Endpoint[Any]] = field(default_factory=dict)
    version_setting: str = "orders_api_version"
    # The version a seller is moved to when Amazon refuses the endpoint (403 Unauthorized)
    # for it (finances: v0 when listTransactions is refused); None: a refusal fails the run.
    fallback: str | None = None
    per_marketplace: bool = False
    tuning: Tuning | None = None  # required with an endpoint
    children: Children | None = None
    backfill: Backfill | None = None
    api_backfill: ApiBackfill | None = None
    report: ReportStream | None = None  # read through a report each run, not an endpoint
    refresh: Refresh | None = None  # or by reading known keys again in batches
    # Its runs go ahead of every other kind's in the broker's queue (the order path: orders,
    # inventory, listings); the others queue behind at ``enqueue.BULK`` priority.
    urgent: bool = False

    def __post_init__(self) -> None:
        tables = [self.table, *([self.children.table] if self.children else [])]
        if not _NAME.fullmatch(self.name) or not all(_TABLE.fullmatch(t) for t in tables):
            raise ValueError(f"stream kind {self.name!r}: plain lower-case names only")
        ways = [w for w in (self.endpoint, self.report, self.refresh) if w is not None]
        if ways and self.tuning is None:
            raise ValueError(f"stream kind {self.name!r} is synced but has no tuning")
        if len(ways) > 1:
            raise ValueError(f"stream kind {self.name!r}: an endpoint, a report or a refresh, "
                             "one of them")
        if self.backfill and self.backfill.hands_over and self.per_marketplace:
            raise ValueError(f"stream kind {self.name!r}: hands_over needs one stream a seller")
        if self.fallback is not None and self.fallback not in self.by_api_version:
            raise ValueError(f"stream kind {self.name!r}: no endpoint for fallback "
                             f"{self.fallback!r}")
        if self.api_backfill and (self.backfill or self.endpoint is None):
            raise ValueError(f"stream kind {self.name!r}: an API backfill needs an endpoint "
                             "and no report backfill")

    @property
    def synced(self) -> bool:
        """Whether it has incremental syncs (and so ``sync_state`` rows)."""
        return any(w is not None for w in (self.endpoint, self.report, self.refresh))

    def operation(self, seller: Any) -> str:
        """The SP-API operation whose quota paces its syncs for ``seller`` (see
        :meth:`version_of`): its endpoint's or refresh's, ``createReport`` for a report kind."""
        if self.report is not None:
            return "createReport"
        if self.refresh is not None:
            return self.refresh.operation
        return self.endpoint_of(seller).operation

    @property
    def env_prefix(self) -> str:
        return f"SPSYNC_{self.name.replace('-', '_').upper()}_"

    def streams(self, marketplace_ids: list[str]) -> list[str]:
        """Its ``sync_state.stream`` values for a seller with these marketplaces."""
        if not self.synced:
            return []
        return [self.stream(m) for m in marketplace_ids] if self.per_marketplace \
            else [self.name]

    def stream(self, marketplace_id: str | None = None) -> str:
        if self.per_marketplace != (marketplace_id is not None):
            raise ValueError(f"stream kind {self.name!r}: marketplace {marketplace_id!r}")
        return f"{self.name}:{marketplace_id}" if marketplace_id is not None else self.name

    def owns(self, stream: str) -> bool:
        if not self.per_marketplace:
            return stream == self.name
        kind, _, market = stream.partition(":")
        return kind == self.name and bool(market)

    def marketplace_of(self, stream: str) -> str | None:
        return stream.partition(":")[2] if self.per_marketplace else None

    def endpoint_for(self, api_version: str) -> Endpoint[Any]:
        if self.endpoint is None:
            raise UnknownStreamError(f"stream kind {self.name!r} is not synced incrementally")
        return self.by_api_version.get(api_version, self.endpoint)

    def version_of(self, seller: Any) -> str:
        """The seller's API version for this kind: ``seller`` is a :class:`SellerRecord`, or
        a mapping with the ``version_setting`` key (a ``sellers`` row)."""
        return str(seller[self.version_setting] if isinstance(seller, Mapping)
                   else getattr(seller, self.version_setting))

    def endpoint_of(self, seller: Any) -> Endpoint[Any]:
        """The endpoint for ``seller`` (see :meth:`version_of`)."""
        return self.endpoint_for(self.version_of(seller))

    def spec(self, stream: str, api_version: str) -> StreamSpec[Any]:
        """The runner's spec of one of its streams, for a seller on ``api_version``."""
        return StreamSpec(stream, self.endpoint_for(api_version), self.marketplace_of(stream))

    def tuned(self, settings: Settings) -> Tuning:
        if self.tuning is None:
            raise UnknownStreamError(f"stream kind {self.name!r} is not synced incrementally")
        key = self.name.replace("-", "_")
        tuned = self.tuning.tuned(settings.stream(key), self.env_prefix)
        periods = self.report.periods if self.report is not None else ()
        if tuned.period is not None and tuned.period not in periods:
            raise ConfigError(f"invalid {self.env_prefix}PERIOD: one of "
                              f"{', '.join(periods) or '(none: not a periodic kind)'}")
        return tuned

    def setting_names(self) -> list[str]:
        """The ``SPSYNC_*`` variables that tune it."""
        knobs = self.tuning.tunable if self.tuning else ()
        return [self.env_prefix + knob.upper() for knob in knobs]
