"""The peer's side of the quota load: getOrders through ``python-amazon-sp-api`` (``sp_api``).

Used by ``benchmarks/quota.py`` (importable by spawn); benchmark-only dependency
(``pip install python-amazon-sp-api``, tested with 2.1.35).

Load shape, as for spsync: one process = one thread per seller, each calling
``Orders(version="v0").get_orders(...)`` back to back until the deadline. The library is
synchronous and has no rate limiter; its documented way to handle 429s is the
``sp_api.util.throttle_retry`` decorator, used here with its defaults (``tries=10,
delay=5, rate=1.3``: sleep 5 s, then x1.3 per further 429). ``delay`` is wall-clock seconds
and is *not* scaled by the simulator's time scale; ``--peer-retry-delay`` changes it.

How it is pointed at the simulator (sp_api has no base-URL option):

* LWA: ``auth_token_client_class`` is a public ``Client`` constructor argument; we pass a
  subclass of ``sp_api.auth.AccessTokenClient`` whose class attributes ``scheme``
  (``"https://"``) and ``host`` (``"api.amazon.com"``) are the simulator's (``path`` is
  already ``/auth/o2/token``).
* SP-API: ``Client.__init__`` copies ``marketplace.endpoint`` into the instance attribute
  ``endpoint``, which every request reads; we assign the simulator URL to it after
  construction. (``AWS_ENV=SANDBOX`` only switches to Amazon's own sandbox host.) sp_api
  derives the ``host`` header as ``endpoint[8:]``, which assumes ``https://``; with
  ``http://127.0.0.1:PORT`` it sends ``27.0.0.1:PORT``, which the simulator ignores.

Everything else is the library's default, including its process-wide access-token cache
(``SP_API_AUTH_CACHE_SIZE``, default 10 entries, keyed by refresh token).
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sp_api.api import Orders
from sp_api.auth import AccessTokenClient
from sp_api.base import Marketplaces
from sp_api.util import throttle_retry

# (sim_url, application, sellers, retry delay in seconds)
Job = tuple[str, dict[str, str], list[dict[str, Any]], float]


def token_client_for(url: str) -> type[AccessTokenClient]:
    """An ``AccessTokenClient`` that asks the simulator's LWA instead of api.amazon.com."""
    scheme, host = url.split("//", 1)
    return type("SimulatorTokenClient", (AccessTokenClient,),
                {"scheme": scheme + "//", "host": host})


def _orders(url: str, app: dict[str, str], seller: dict[str, Any]) -> Any:
    client = Orders(Marketplaces.US, version="v0", refresh_token=seller["refresh_token"],
                    credentials={"lwa_app_id": app["client_id"],
                                 "lwa_client_secret": app["client_secret"]},
                    auth_token_client_class=token_client_for(url))
    client.endpoint = url
    return client


class _Counts:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.values: dict[str, int] = {"ok": 0}

    def add(self, name: str) -> None:
        with self.lock:
            self.values[name] = self.values.get(name, 0) + 1


def _loop(job: Job, seller: dict[str, Any], deadline: float, counts: _Counts) -> None:
    url, app, _, delay = job
    client = _orders(url, app, seller)
    get_orders = throttle_retry(delay=delay)(client.get_orders)
    after = (datetime.now(UTC) - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    while time.monotonic() < deadline:
        try:
            get_orders(LastUpdatedAfter=after, MarketplaceIds=seller["marketplace_ids"],
                       MaxResultsPerPage=100)
            counts.add("ok")
        except Exception as exc:  # counted: the benchmark reports, never stops
            counts.add(f"errors_{type(exc).__name__}")


def pull_until_in_process(job: Job, deadline: float, *, grace: float = 3.0) -> dict[str, int]:
    """One process: a daemon thread per seller; return at most ``grace`` s after the
    deadline (threads still asleep in ``throttle_retry`` die with the process)."""
    counts = _Counts()
    threads = [threading.Thread(target=_loop, args=(job, s, deadline, counts), daemon=True)
               for s in job[2]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline + grace - time.monotonic()))
    with counts.lock:
        result = dict(counts.values)
    result["threads_overran"] = sum(t.is_alive() for t in threads)
    return result
