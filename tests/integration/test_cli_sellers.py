"""`sellers show|enable|disable|reauth` and `status` as an operator runs them (real Postgres,
real Redis, `celery -A worker ...` processes)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import text

from tests.clikit import command_env
from worker.config import Settings
from worker.db.sellers import get_seller, upsert_seller
from worker.db.state import claim_due
from worker.ratelimit.bucket import bucket_key, split_name
from worker.runtime import Runtime
from worker.sync.catalog import streams_for

from .helpers import table
from .test_cli import celery

pytestmark = pytest.mark.integration

TOKEN = "Atzr|sellers-cli-secret-0123456789"
NEW_TOKEN = "Atzr|sellers-cli-new-secret-9876543210"
US = "ATVPDKIKX0DER"


@pytest.fixture
def env(clean) -> dict[str, str]:
    return command_env(clean)


@pytest.fixture
def rt(env) -> Runtime:
    return Runtime(Settings(database_url=env["DATABASE_URL"], redis_url=env["REDIS_URL"],
                            token_keys=env["SPSYNC_TOKEN_KEYS"]))


@pytest.fixture
def rds(rt) -> Any:
    client = rt.redis()
    yield client
    client.close()


def add(rt: Runtime, spid: str, *, token: str = TOKEN, mids: tuple[str, ...] = (US,),
        orders_api: str = "2026-01-01") -> int:
    with rt.engine.begin() as conn:
        return upsert_seller(conn, rt.keyring, selling_partner_id=spid, region="NA",
                             marketplace_ids=list(mids), refresh_token=token,
                             streams=streams_for(list(mids)), orders_api_version=orders_api)


def claimed_sellers(rt: Runtime) -> set[int]:
    """Sellers the dispatcher would claim now (the claim is rolled back)."""
    with rt.engine.connect() as conn, conn.begin() as tx:
        pairs = claim_due(conn, datetime.now(UTC) + timedelta(days=1), limit=1000,
                          hold=timedelta(minutes=5))
        tx.rollback()
    return {seller_id for seller_id, _ in pairs}


def seller_row(rt: Runtime, seller_id: int) -> tuple[Any, ...]:
    ((enabled, reason),) = table(rt, "SELECT enabled, disabled_reason FROM sellers WHERE id = :i",
                                 i=seller_id)
    return enabled, reason


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("Error")]


# --- show ---


def test_show_prints_fields_streams_and_last_five_runs_but_never_the_token(rt, env):
    seller_id = add(rt, "A1SHOW", mids=(US, "A2EUQ1WTGCTBG2"))
    add(rt, "A1OTHER")  # its runs must not show up
    cursor = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    with rt.engine.begin() as conn:
        conn.execute(text(
            "UPDATE sync_state SET cursor = :c, last_success_at = :c, due_at = :d, "
            "last_error = 'throttled twice', last_error_at = :c "
            "WHERE seller_id = :s AND stream = 'orders'"),
            {"c": cursor, "d": cursor + timedelta(minutes=5), "s": seller_id})
        for i in range(7):
            conn.execute(text(
                "INSERT INTO sync_runs (seller_id, stream, status, started_at, pages, "
                "rows_written, api_calls, throttled, error_type, error) "
                "VALUES (:s, 'orders', :st, :t, :i, 10 * :i, :i, 0, :et, :e)"),
                {"s": seller_id, "st": "failed" if i == 6 else "succeeded",
                 "t": cursor + timedelta(minutes=i), "i": i,
                 "et": "ServerError" if i == 6 else None, "e": "boom" if i == 6 else None})
        conn.execute(text("INSERT INTO sync_runs (seller_id, stream, status, started_at) "
                          "SELECT id, 'orders', 'succeeded', now() FROM sellers "
                          "WHERE selling_partner_id = 'A1OTHER'"))

    shown = celery("sellers", "show", "A1SHOW", "--json", env=env)
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert (data["id"], data["selling_partner_id"], data["region"], data["orders_api"],
            data["enabled"], data["disabled_reason"]) == (
        seller_id, "A1SHOW", "NA", "2026-01-01", True, None)
    assert data["marketplace_ids"] == [US, "A2EUQ1WTGCTBG2"]
    assert data["refresh_token"] == {"stored": True, "key_id": "cli"}
    streams = {s["stream"]: s for s in data["streams"]}
    assert set(streams) == set(streams_for([US, "A2EUQ1WTGCTBG2"]))
    orders = streams["orders"]
    assert datetime.fromisoformat(orders["cursor"]) == cursor
    assert datetime.fromisoformat(orders["last_success_at"]) == cursor
    assert datetime.fromisoformat(orders["due_at"]) == cursor + timedelta(minutes=5)
    assert orders["last_error"] == "throttled twice"
    assert orders["lag_seconds"] >= (datetime.now(UTC) - cursor).total_seconds() - 60
    assert streams[f"inventory:{US}"]["cursor"] is None
    assert streams[f"inventory:{US}"]["lag_seconds"] is None
    runs = data["runs"]
    assert [r["pages"] for r in runs] == [6, 5, 4, 3, 2]  # the last five, newest first
    assert (runs[0]["status"], runs[0]["error_type"], runs[0]["error"]) == (
        "failed", "ServerError", "boom")

    by_id = celery("sellers", "show", str(seller_id), env=env)
    assert by_id.returncode == 0, by_id.stderr
    out = by_id.stdout
    assert "seller A1SHOW (id " in out and "refresh token:  stored (key cli)" in out
    assert "throttled twice" in out and "ServerError: boom" in out
    assert "2026-03-01 12:00:00" in out and "recent runs (last 5)" in out
    for result in (shown, by_id):
        assert "sellers-cli-secret" not in result.stdout + result.stderr


def test_show_says_when_no_refresh_token_is_stored(rt, env):
    seller_id = add(rt, "A1NOTOKEN")
    with rt.engine.begin() as conn:
        conn.execute(text("UPDATE sellers SET refresh_token_enc = NULL, "
                          "refresh_token_kid = NULL WHERE id = :i"), {"i": seller_id})
    shown = celery("sellers", "show", "A1NOTOKEN", env=env)
    assert shown.returncode == 0, shown.stderr
    assert "refresh token:  missing" in shown.stdout and "recent runs: none" in shown.stdout
    data = json.loads(celery("sellers", "show", "A1NOTOKEN", "--json", env=env).stdout)
    assert data["refresh_token"] == {"stored": False, "key_id": None} and data["runs"] == []


# --- disable / enable ---


def test_disable_stops_dispatch_and_enable_resumes_it_and_forgets_the_lwa_failure(
        rt, env, rds):
    target, other = add(rt, "A1PAUSE"), add(rt, "A1KEEP")
    assert claimed_sellers(rt) == {target, other}

    off = celery("sellers", "disable", "A1PAUSE", "--reason", "account on hold", env=env)
    assert off.returncode == 0, off.stderr
    assert "A1PAUSE disabled: account on hold" in off.stdout
    assert seller_row(rt, target) == (False, "account on hold")
    assert claimed_sellers(rt) == {other}
    assert seller_row(rt, other) == (True, None)

    by_id = celery("sellers", "disable", str(other), env=env)  # numeric id, default reason
    assert by_id.returncode == 0, by_id.stderr
    assert seller_row(rt, other) == (False, "disabled by operator")
    assert claimed_sellers(rt) == set()

    rds.set("lwa:err:A1PAUSE", "invalid_grant")
    rds.set("lwa:tok:A1PAUSE", '{"access_token": "Atza|x", "expires_at": 1}')
    rds.set("lwa:err:A1KEEP", "invalid_grant")
    on = celery("sellers", "enable", "A1PAUSE", env=env)
    assert on.returncode == 0, on.stderr
    assert "A1PAUSE enabled" in on.stdout
    assert seller_row(rt, target) == (True, None)
    assert claimed_sellers(rt) == {target}
    assert rds.get("lwa:err:A1PAUSE") is None  # the next sync asks LWA again
    assert rds.get("lwa:tok:A1PAUSE") is None  # ... with a fresh access token
    assert rds.get("lwa:err:A1KEEP") == b"invalid_grant"  # other sellers untouched
    with rt.engine.begin() as conn:  # the token is untouched
        assert get_seller(conn, target, rt.keyring).refresh_token == TOKEN


# --- reauth ---


def test_reauth_stores_the_new_token_reenables_and_drops_cached_lwa_state(rt, env, rds):
    seller_id = add(rt, "A1REAUTH")
    add(rt, "A1BYSTANDER")
    with rt.engine.begin() as conn:
        conn.execute(text("UPDATE sellers SET enabled = false, "
                          "disabled_reason = 'invalid_grant: revoked' WHERE id = :i"),
                     {"i": seller_id})
    for spid in ("A1REAUTH", "A1BYSTANDER"):
        rds.set(f"lwa:tok:{spid}", '{"access_token": "Atza|old", "expires_at": 1}')
        rds.set(f"lwa:err:{spid}", "invalid_grant")

    done = celery("sellers", "reauth", "A1REAUTH", "--token-stdin", env=env,
                  stdin=NEW_TOKEN + "\n")
    assert done.returncode == 0, done.stderr
    assert "A1REAUTH re-authorized" in done.stdout
    with rt.engine.begin() as conn:
        seller = get_seller(conn, seller_id, rt.keyring)
    assert seller.refresh_token == NEW_TOKEN
    assert (seller.enabled, seller.disabled_reason) == (True, None)
    assert seller_id in claimed_sellers(rt)
    assert rds.get("lwa:tok:A1REAUTH") is None and rds.get("lwa:err:A1REAUTH") is None
    assert rds.get("lwa:tok:A1BYSTANDER") is not None
    assert rds.get("lwa:err:A1BYSTANDER") is not None
    stored = b"".join(bytes(r[0]) for r in table(rt, "SELECT refresh_token_enc FROM sellers"))
    assert b"sellers-cli-new-secret" not in stored
    assert "sellers-cli-new-secret" not in done.stdout + done.stderr


def test_reauth_help_explains_the_link_and_the_stdin_token(env):
    helped = celery("sellers", "reauth", "--help", env=env)
    assert helped.returncode == 0 and "onboarding link" in helped.stdout
    assert "--token-stdin" in helped.stdout


# --- onboarding links: invite, reauth, invitations, revoke-invitation ---


def _link_token(stdout: str, base: str) -> str:
    (line,) = stdout.splitlines()
    parts = urlsplit(line)
    assert f"{parts.scheme}://{parts.netloc}" == base and parts.path == "/oauth/start"
    return parse_qs(parts.query)["invitation"][0]


def test_invite_prints_a_link_whose_secret_is_stored_only_as_a_hash(rt, env):
    env = {**env, "SPSYNC_WEB_BASE_URL": "https://spsync.example.com"}
    done = celery("sellers", "invite", "--name", "Acme EU", "--region", "eu", env=env)
    assert done.returncode == 0, done.stderr
    token = _link_token(done.stdout, "https://spsync.example.com")
    assert "single use" in done.stderr and "revoke-invitation" in done.stderr
    rows = table(rt, "SELECT token_sha256, seller_id, region, name, used_at, "
                     "expires_at - created_at FROM onboarding_invitations")
    ((digest, seller_id, region, name, used_at, ttl),) = rows
    assert bytes(digest) == hashlib.sha256(token.encode()).digest()
    assert (seller_id, region, name, used_at) == (None, "EU", "Acme EU", None)
    assert timedelta(hours=71) < ttl <= timedelta(hours=72)  # SPSYNC_WEB_INVITATION_HOURS
    dump = str(table(rt, "SELECT * FROM onboarding_invitations"))
    assert token not in dump and token not in done.stderr


def test_reauth_prints_a_link_bound_to_that_seller_and_changes_nothing_else(rt, env, rds):
    seller_id = add(rt, "A1RELINK")
    before = _state(rt, rds)
    done = celery("sellers", "reauth", "A1RELINK", "--expires-hours", "2", "--base-url",
                  "http://127.0.0.1:9000", env=env)
    assert done.returncode == 0, done.stderr
    _link_token(done.stdout, "http://127.0.0.1:9000")
    assert "re-authorizes seller A1RELINK" in done.stderr
    assert table(rt, "SELECT seller_id, region FROM onboarding_invitations") == [(seller_id, "NA")]
    assert _state(rt, rds) == before  # the seller, its streams and Redis are untouched


def test_invitations_lists_states_and_revoke_closes_an_open_one(rt, env):
    add(rt, "A1LISTED")
    for args in (["invite"], ["reauth", "A1LISTED"], ["invite", "--region", "FE"]):
        assert celery("sellers", *args, env=env).returncode == 0
    assert celery("sellers", "revoke-invitation", "2", env=env).returncode == 0
    again = celery("sellers", "revoke-invitation", "2", env=env)
    assert again.returncode == 1 and "no open invitation 2" in again.stderr
    listed = celery("sellers", "invitations", "--json", env=env)
    states = {d["id"]: (d["state"], d["for"], d["region"]) for d in json.loads(listed.stdout)}
    assert states == {1: ("open", "new seller", None), 2: ("revoked", "A1LISTED", "NA"),
                      3: ("open", "new seller", "FE")}
    text_out = celery("sellers", "invitations", env=env).stdout
    assert "revoked" in text_out and "A1LISTED" in text_out and "invitation=" not in text_out


# --- bad arguments: one error line, nothing changed, nothing leaked ---


def _state(rt: Runtime, rds: Any) -> tuple[Any, ...]:
    sellers = table(rt, "SELECT * FROM sellers ORDER BY id")
    streams = table(rt, "SELECT * FROM sync_state ORDER BY seller_id, stream")
    keys = {k: rds.get(k) for k in sorted(rds.keys("*"))}
    return sellers, streams, keys


@pytest.mark.parametrize(("args", "stdin", "needle"), [
    (["show", "A1NOSUCH"], "", "no seller 'A1NOSUCH'"),
    (["show", "999999"], "", "no seller '999999'"),
    (["enable", "A1NOSUCH"], "", "no seller 'A1NOSUCH'"),
    (["disable", "A1NOSUCH"], "", "no seller 'A1NOSUCH'"),
    (["reauth", "A1NOSUCH", "--token-stdin"], NEW_TOKEN + "\n", "no seller 'A1NOSUCH'"),
    (["reauth", "A1NOSUCH"], "", "no seller 'A1NOSUCH'"),
    (["show"], "", "Missing argument 'SELLER'"),
    (["enable"], "", "Missing argument 'SELLER'"),
    (["disable"], "", "Missing argument 'SELLER'"),
    (["reauth"], NEW_TOKEN + "\n", "Missing argument 'SELLER'"),
    (["reauth", "A1HELD", "--token-stdin"], "not-a-token\n", "Atzr|"),
    (["reauth", "A1HELD", "--token-stdin"], "", "Atzr|"),
    (["reauth", "A1HELD", "--base-url", "ftp://x"], "", "--base-url must be an http(s) URL"),
    (["reauth", "A1HELD", "--expires-hours", "0"], "", "--expires-hours"),
    (["invite", "--region", "XX"], "", "--region"),
    (["invite", "--name", "\x07bell"], "", "--name must be"),
    (["invite", "--name", "x" * 201], "", "--name must be"),
    (["revoke-invitation", "1"], "", "no open invitation 1"),
    (["revoke-invitation", "99999999999999999999"], "", "INVITATION_ID"),
    (["add", "--selling-partner-id", "<script>", "--region", "NA", "--marketplace-ids", US],
     "Atzr|x\n", "selling partner id must be"),
    (["add", "--selling-partner-id", "A1" + "B" * 5000, "--region", "NA",
      "--marketplace-ids", US], "Atzr|x\n", "selling partner id must be"),
    (["disable", "A1HELD", "--reason", " "], "", "--reason must not be empty"),
    (["enable", "A1HELD", "A1EXTRA"], "", "unexpected extra argument"),
    (["show", "A1HELD", "--yaml"], "", "No such option"),
    (["show", "99999999999999999999"], "", "no seller '99999999999999999999'"),  # > bigint
    (["enable", "99999999999999999999"], "", "no seller '99999999999999999999'"),
    (["disable", "99999999999999999999"], "", "no seller '99999999999999999999'"),
    (["show", "A1\udcff"], "", "must be UTF-8"),  # the byte 0xff in argv
    (["reauth", "A1HELD", "--token-stdin"], "Atzr|sellers-cli\x00secret\n", "printable ASCII"),
    (["reauth", "A1HELD", "--token-stdin"], "Atzr|sellers cli secret\n", "printable ASCII"),
])
def test_bad_arguments_fail_with_one_error_line_and_change_nothing(rt, env, rds, args, stdin,
                                                                   needle):
    seller_id = add(rt, "A1HELD")
    with rt.engine.begin() as conn:
        conn.execute(text("UPDATE sellers SET enabled = false, "
                          "disabled_reason = 'invalid_grant: revoked' WHERE id = :i"),
                     {"i": seller_id})
    rds.set("lwa:tok:A1HELD", '{"access_token": "Atza|old", "expires_at": 1}')
    rds.set("lwa:err:A1HELD", "invalid_grant")
    before = _state(rt, rds)

    result = celery("sellers", *args, env=env, stdin=stdin)

    assert result.returncode != 0
    assert len(error_lines(result.stderr)) == 1, result.stderr
    assert needle in error_lines(result.stderr)[0]
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert "sellers-cli" not in result.stdout + result.stderr
    assert _state(rt, rds) == before


# --- status: bucket fill and queue depth ---


def put_bucket(r: Any, name: str, *, tokens: float, ts: float, rate: str | None = None) -> None:
    """A bucket in the state ``bucket.lua`` would leave it: its field in the seller's hash
    (``<tokens> <ts> <seconds incremental callers stay active>``) and a learned rate."""
    hash_key, field = split_name(name)
    r.hset(hash_key, field, f"{tokens} {ts!r} 0")
    if rate is not None:
        r.hset(hash_key, f"{field}:rate", rate)


def test_status_shows_bucket_fill_per_stream_and_the_queue_depth(rt, env, rds):
    add(rt, "A1FILL")
    add(rt, "A1LEGACY", orders_api="v0")
    secs, micros = rds.time()
    now = secs + micros / 1e6
    still = "0.000000001"  # refills nothing while the test runs
    # searchOrders: burst 20, 19 usable; 9.5 reservations queued beyond empty -> 150 %
    put_bucket(rds, bucket_key("A1FILL", "NA", "searchOrders"), tokens=-9.5, ts=now, rate=still)
    # getInventorySummaries: burst 2, 1 usable; half of it left -> 50 %
    put_bucket(rds, bucket_key("A1FILL", "NA", "getInventorySummaries"), tokens=0.5, ts=now,
               rate=still)
    # a v0 seller's orders stream is paced by getOrders, not searchOrders
    put_bucket(rds, bucket_key("A1LEGACY", "NA", "getOrders"), tokens=0, ts=now, rate=still)
    put_bucket(rds, bucket_key("A1LEGACY", "NA", "searchOrders"), tokens=-100, ts=now)
    # a bucket last used long ago has refilled at its default rate (5/s): 0 %
    put_bucket(rds, bucket_key("A1LEGACY", "NA", "searchListingsItems"), tokens=-3, ts=now - 60)
    rds.rpush("spsync", *[json.dumps({"n": i}) for i in range(3)])

    result = celery("status", "--json", env=env)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["queue_depth"] == 3
    fill = {(r["selling_partner_id"], r["stream"]): r["bucket_fill"] for r in data["streams"]}
    assert fill == pytest.approx({
        ("A1FILL", "orders"): 1.5,
        ("A1FILL", f"inventory:{US}"): 0.5,
        ("A1FILL", f"listings:{US}"): 0.0,  # no bucket yet
        ("A1LEGACY", "orders"): 1.0,
        ("A1LEGACY", f"inventory:{US}"): 0.0,
        ("A1LEGACY", f"listings:{US}"): 0.0,
        **{(seller, stream): 0.0 for seller in ("A1FILL", "A1LEGACY")  # no bucket yet
           for stream in streams_for([US]) if stream.split(":")[0] not in (
               "orders", "inventory", "listings")},
    }, abs=1e-3)

    shown = celery("status", env=env)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0] == "queue spsync: 3 waiting"
    assert lines[1] == "inbox: 0 pending, 0 parked"
    assert " fill " in lines[4]  # after the outbox line and a blank one
    orders_line = next(line for line in lines if line.startswith("A1FILL") and " orders " in line)
    assert " 150% " in orders_line


def test_status_with_an_unreachable_amqp_broker_has_no_queue_depth(env):
    amqp = {**env, "SPSYNC_BROKER_URL": "amqp://guest@127.0.0.1:1//"}
    result = celery("status", "--json", env=amqp)
    assert result.returncode == 0, result.stderr
    shown_json = json.loads(result.stdout)
    assert shown_json["queue_depth"] is None and shown_json["streams"] == []
    shown = celery("status", env=amqp)
    assert shown.returncode == 0 and shown.stdout.splitlines()[0] == "queue spsync: n/a waiting"


def test_status_counts_what_waits_in_a_rabbitmq_queue(env, rabbitmq):
    from kombu import Connection

    from worker.broker import amqp_queues

    with Connection(rabbitmq) as conn:  # what a worker declares, then three messages
        producer = conn.Producer()
        for n in range(3):
            producer.publish({"n": n}, exchange=amqp_queues("spsync")[0].exchange,
                             routing_key="spsync", declare=amqp_queues("spsync"))
    result = celery("status", "--json", env={**env, "SPSYNC_BROKER_URL": rabbitmq})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["queue_depth"] == 3


def test_status_without_redis_fails_with_one_line(env):
    result = celery("status", env={**env, "REDIS_URL": "redis://127.0.0.1:1/0"})
    assert result.returncode == 1
    assert result.stderr.strip().startswith("Error: Redis unreachable: ")
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_status_with_a_redis_database_that_does_not_exist_fails_with_one_line(env):
    result = celery("status", env={**env, "REDIS_URL": env["REDIS_URL"].rsplit("/", 1)[0]
                                   + "/9999"})
    assert result.returncode == 1
    assert result.stderr.strip() == "Error: Redis refused: DB index is out of range"


def test_status_on_a_redis_cluster_reads_its_buckets_and_says_its_state(rt, env, redis_cluster):
    from worker.redis_clients import sync_client

    add(rt, "A1FILL")
    on_cluster = {**env, "REDIS_URL": redis_cluster.url, "SPSYNC_BROKER_URL": env["REDIS_URL"]}
    with sync_client(redis_cluster.url) as r:
        secs, micros = r.time()
        put_bucket(r, bucket_key("A1FILL", "NA", "searchOrders"),  # 9.5 queued: 150 %
                   tokens=-9.5, ts=secs + micros / 1e6, rate="0.000000001")
    result = celery("status", "--json", env=on_cluster)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["redis_cluster"] == "ok: 3 masters, 3 replicas, 16384/16384 slots ok"
    fill = {r["stream"]: r["bucket_fill"] for r in data["streams"]}
    assert fill["orders"] == pytest.approx(1.5, abs=1e-3)
    shown = celery("status", env=on_cluster)
    assert shown.stdout.splitlines()[0] == \
        "Redis Cluster: ok: 3 masters, 3 replicas, 16384/16384 slots ok"


def test_a_redis_cluster_without_a_broker_of_its_own_is_one_line(env, redis_cluster):
    result = celery("status", env={**env, "REDIS_URL": redis_cluster.url})
    assert result.returncode == 1
    assert "Redis Cluster" in result.stderr and "SPSYNC_BROKER_URL" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
