"""Onboarding abuse against a real ``celery -A worker web``: rounds of random attacks on a
deployment with a connected victim seller, then a flood and a slowloris.

Attacks: no invitation, forged invitations, a new-seller link used to name the victim
(takeover) or a seller not connected yet (someone else's id), the victim's re-authorization
link consented to by another account, malformed seller ids, replays of used links. Checked:
every attack is refused with a 4xx, never a 5xx; the victim's row (token, region,
marketplaces, enabled) is byte for byte what it was and it still syncs to truth; no seller
is created by an attack; the web app stays up and answers while flooded (429s) and while
slow clients are cut off.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest
import requests

from tests.chaos.record import record
from tests.conftest import settings_for
from tests.e2e.procs import env_for, free_port, simulator_env, start_celery, stop, wait
from tests.integration.helpers import mirror, table, truth
from tests.integration.test_cli import celery
from tests.integration.webkit import slowloris
from worker.db import invitations
from worker.db.sellers import find_seller
from worker.runtime import Runtime
from worker.sync.service import run_stream

pytestmark = pytest.mark.chaos

GARBAGE_IDS = ("\U0001f600", "<script>alert(1)</script>", "A1\x00B2", "a1lower", "A", "A1 B",
               "'; DROP TABLE sellers; --", "A1%0d%0aX: y", "\u202eA1B2")


class Deployment:
    """The web app of one deployment, and the operator's CLI beside it."""

    def __init__(self, base: str, env: dict[str, str], sim: Any, rt: Runtime) -> None:
        self.base, self.env, self.sim, self.rt = base, env, sim, rt
        self.statuses: Counter[int] = Counter()

    def cli_link(self, *args: str) -> str:
        """A link as the operator makes it (``celery -A worker sellers invite|reauth``)."""
        done = celery("sellers", *args, "--base-url", self.base, env=self.env)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def link(self, seller: str | None = None) -> str:
        """The same, made in-process: the attacks need dozens."""
        with self.rt.engine.begin() as conn:
            seller_id = find_seller(conn, seller).id if seller else None
            token, _ = invitations.create(conn, now=datetime.now(UTC), ttl=timedelta(hours=1),
                                          region="NA", seller_id=seller_id)
        return invitations.link(self.base, token)

    def get(self, url: str, follow: bool = False) -> requests.Response:
        """One request, as a patient attacker sends it: a 429 of the per-address limit is
        waited out (its Retry-After) and the request sent again, so every attack reaches the
        check it is aimed at however fast this machine runs them."""
        while True:
            resp = requests.get(url, allow_redirects=follow, timeout=30)
            self.statuses[resp.status_code] += 1
            if resp.status_code != 429:
                return resp
            time.sleep(float(resp.headers.get("Retry-After", "1")))

    def callback_as(self, link: str, consenting: str) -> str:
        """Start + consent by ``consenting``'s account; the callback URL, not yet opened."""
        self.sim.client.consent_as(consenting)
        consent = self.get(link).headers["Location"]
        return requests.get(consent, allow_redirects=False, timeout=30).headers["Location"]


def _with_seller(callback: str, spid: str) -> str:
    parts = urlsplit(callback)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | {"selling_partner_id": spid}
    return urlunsplit(parts._replace(query=urlencode(query)))


def _attacks(d: Deployment, victim: str, attacker: str, bystander: str,
             rng: random.Random) -> dict[str, Callable[[], requests.Response]]:
    """Each attack returns the web app's answer."""
    def garbage() -> str:
        if rng.random() < 0.5:
            return rng.choice(GARBAGE_IDS)
        return "".join(chr(rng.randrange(1, 0x2FFF)) for _ in range(rng.choice((3, 40, 5000))))

    return {
        "no invitation": lambda: d.get(d.base + "/oauth/start?region=na"),
        "forged invitation": lambda: d.get(
            d.base + "/oauth/start?invitation=" + "".join(
                rng.choice("ABCxyz019_-") for _ in range(43))),
        "takeover with a new-seller link": lambda: d.get(_with_seller(
            d.callback_as(d.link(), attacker), victim)),
        "someone else's id with a new-seller link": lambda: d.get(_with_seller(
            d.callback_as(d.link(), attacker), bystander), follow=True),
        "the victim's reauth link, another account": lambda: d.get(
            d.callback_as(d.link(victim), attacker), follow=True),
        "the victim's reauth link, forged id": lambda: d.get(_with_seller(
            d.callback_as(d.link(victim), attacker), victim), follow=True),
        "malformed seller id": lambda: d.get(_with_seller(
            d.callback_as(d.link(), attacker), garbage())),
    }


def _refused(answer: requests.Response) -> bool:
    """A 4xx; or the 503 of an account whose quota the attacks themselves spent at Amazon
    (dozens of consents a minute from one account exceed getMarketplaceParticipations')."""
    throttled = answer.status_code == 503 and "Retry-After" in answer.headers and \
        "quota" in answer.text
    return 400 <= answer.status_code < 500 or throttled


def _victim_row(rt: Runtime, spid: str) -> list[Any]:
    return table(rt, "SELECT id, selling_partner_id, region, marketplace_ids, "
                     "refresh_token_enc, refresh_token_kid, enabled, disabled_reason "
                     "FROM sellers WHERE selling_partner_id = :s", s=spid)


def _flood(d: Deployment, n: int) -> Counter[int]:
    seen: Counter[int] = Counter()
    with requests.Session() as s:
        for _ in range(n):
            seen[s.get(d.base + "/oauth/start?region=na", timeout=30).status_code] += 1
    d.statuses.update(seen)
    return seen


def test_onboarding_abuse_changes_nothing_and_keeps_the_app_up(start_sim, clean, tmp_path: Path,
                                                               rounds, seed):
    rng = random.Random(seed)
    sim = start_sim(sellers=7, orders_per_seller=8, seed=seed % 1000)
    na = [s["selling_partner_id"] for s in sim.world()["sellers"] if s["region"] == "NA"]
    victim, attacker, bystander = na[:3]
    settings = settings_for(clean, sim)
    rt = Runtime(settings)
    env = {k: v for k, v in env_for(settings, SPSYNC_WEB_OAUTH_PER_MINUTE="600",
                                    SPSYNC_WEB_READ_TIMEOUT_SECONDS="2").items()
           if not k.startswith("SPSYNC_LWA_")}
    env.pop("SPSYNC_SPAPI_URL")
    env |= simulator_env(sim.url, env)  # its own LWA application, as ordinary settings
    port = free_port()
    d = Deployment(f"http://127.0.0.1:{port}", env, sim, rt)
    web = start_celery(["web", "--host", "127.0.0.1", "--port", str(port), "--spapi-url",
                        sim.url], env, tmp_path / "web.log")
    try:
        wait(lambda: _healthy(d.base), 30, "the web app")
        d.sim.client.consent_as(victim)
        assert "connected" in d.get(d.cli_link("invite", "--region", "NA"), follow=True).text
        before = _victim_row(rt, victim)
        attacks = _attacks(d, victim, attacker, bystander, rng)
        tried: Counter[str] = Counter()
        for _ in range(rounds):
            for name in rng.sample(list(attacks), k=len(attacks)):
                answer = attacks[name]()
                tried[name] += 1
                assert _refused(answer), (name, answer.status_code, answer.text[:300])
        used = d.cli_link("invite", "--region", "NA")
        d.sim.client.consent_as(bystander)  # an account the attacks spent no quota of
        assert d.get(used, follow=True).status_code == 200  # a legitimate second seller
        assert d.get(used).status_code == 403  # ... whose link cannot be replayed
        flood = _flood(d, 200)
        slow_s, _ = asyncio.run(slowloris(port, 100, limit_s=15))
        assert _healthy(d.base) and web.poll() is None
    finally:
        stop([web])

    sellers = sorted(r[0] for r in table(rt, "SELECT selling_partner_id FROM sellers"))
    assert sellers == sorted([victim, bystander])  # no seller from an attack
    assert _victim_row(rt, victim) == before
    victim_id = before[0][0]
    assert asyncio.run(run_stream(rt, victim_id, "orders")).status == "succeeded"
    assert mirror(rt, victim_id) == truth(sim, victim)
    assert flood[429] >= 100 and not any(s >= 500 and s != 503 for s in d.statuses)
    assert slow_s < 6
    assert "Traceback" not in (tmp_path / "web.log").read_text()
    record("Onboarding abuse",
           injected=f"{sum(tried.values())} attacks over {rounds} rounds ({len(attacks)} kinds: "
                    "no or forged invitation, takeover and foreign ids through new-seller "
                    "links, another account on a reauth link, malformed ids), a used link "
                    "replayed, 200 requests in a burst, 100 slowloris sockets",
           checked="every attack refused with a 4xx (no 5xx); the victim's row unchanged and "
                   "its sync = truth; no seller from an attack; 429s under the burst; slow "
                   "sockets closed within the read timeout while the app answers",
           result="pass",
           figures={"attacks": sum(tried.values()), "statuses": dict(d.statuses),
                    "flood_429": flood[429], "slowloris_closed_after_s": round(slow_s, 1),
                    "sellers_from_attacks": 0})


def _healthy(base: str) -> bool:
    try:
        return requests.get(base + "/healthz", timeout=5).status_code == 200
    except (OSError, requests.RequestException):
        return False
