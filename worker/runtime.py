"""Process-wide dependencies built once from settings: service URLs, engine, keyring.

Async resources (aiohttp session, async Redis) belong to one event loop, so they are created
per run by :meth:`Runtime.spapi` rather than kept here.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import aiohttp
from sqlalchemy import Engine

from worker import embedded
from worker.config import CLUSTER_BROKER, ConfigError, Settings, get_settings
from worker.crypto import Keyring, keyring
from worker.db.engine import engine_for
from worker.ratelimit.backoff import Backoff
from worker.ratelimit.bucket import TokenBucket
from worker.redis_clients import async_client, is_cluster, sync_client
from worker.spapi.auth import LwaApp, LwaTokenProvider
from worker.spapi.client import SpApiClient
from worker.spapi.clock import ClockWatch
from worker.spapi.sigv4 import Signer
from worker.sync.calls import RunCalls


@dataclass
class Runtime:
    settings: Settings

    @cached_property
    def services(self) -> embedded.Services:
        return embedded.resolve(self.settings)

    @cached_property
    def engine(self) -> Engine:
        return engine_for(self.services.database_url)

    @cached_property
    def keyring(self) -> Keyring:
        return keyring(self.settings)

    @property
    def broker_url(self) -> str:
        """Celery's broker in redis-py's spelling: ``SPSYNC_BROKER_URL``, else the Redis of
        ``REDIS_URL`` (ConfigError if that is a cluster, which Celery cannot use)."""
        if self.settings.broker_url:
            return self.settings.broker_url
        if is_cluster(self.services.redis_url):
            raise ConfigError(f"REDIS_URL is a Redis Cluster. {CLUSTER_BROKER}")
        return self.services.redis_url

    def redis(self, **kwargs: Any) -> Any:
        """A sync client of spsync's Redis (a ``Redis`` or, on a cluster, a ``RedisCluster``)."""
        return sync_client(self.services.redis_url, **kwargs)

    def lwa_app(self) -> LwaApp:
        self.settings.require_lwa()
        secret = self.settings.lwa_client_secret
        return LwaApp(str(self.settings.lwa_client_id),
                      secret.get_secret_value() if secret else "",
                      str(self.settings.lwa_token_url))

    def signer(self) -> Signer | None:
        s = self.settings
        if s.aws_access_key_id and s.aws_secret_access_key:
            return Signer(s.aws_access_key_id, s.aws_secret_access_key.get_secret_value())
        return None

    @contextlib.asynccontextmanager
    async def spapi(self, *, run_id: int | None = None) -> AsyncIterator[SpApiClient]:
        """A client (with its own session and async Redis) for one event loop; with
        ``run_id``, each request it sends is also counted for that sync run in Redis."""
        s = self.settings
        timeout = aiohttp.ClientTimeout(total=s.http_timeout_seconds)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            aio_redis = async_client(self.services.redis_url)
            watch = ClockWatch(aio_redis)
            try:
                yield SpApiClient(
                    session,
                    LwaTokenProvider(session, aio_redis, self.lwa_app(), keyring=self.keyring,
                                     cooldown_first=s.lwa_cooldown_seconds,
                                     cooldown_max=s.lwa_cooldown_max_seconds,
                                     clock_watch=watch),
                    TokenBucket(aio_redis, share=s.backfill_share),
                    base_url=str(s.spapi_url) if s.spapi_url else None,
                    sandbox=s.spapi_sandbox,
                    backoff=Backoff(s.backoff_base_seconds, s.backoff_cap_seconds, s.max_retries),
                    max_inline_wait=s.max_inline_wait_seconds,
                    wait_log_threshold=s.quota_wait_log_seconds,
                    signer=self.signer(),
                    clock=watch,
                    on_send=RunCalls(aio_redis, run_id) if run_id is not None else None,
                )
            finally:
                await aio_redis.aclose()


_runtime: Runtime | None = None


def get_runtime() -> Runtime:
    """The process's runtime (built on first use, from the process's settings)."""
    global _runtime
    if _runtime is None:
        _runtime = Runtime(get_settings())
    return _runtime
