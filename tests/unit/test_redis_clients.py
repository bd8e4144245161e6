"""Redis Cluster URLs, the configuration that takes them, and the scripts that run there."""

from __future__ import annotations

import re
from importlib import resources

import pytest

from worker.config import ConfigError, Settings, load_settings
from worker.redis_clients import (
    ClusterUrl,
    describe_nodes,
    is_cluster,
    parse_cluster_url,
    sync_client,
)
from worker.runtime import Runtime


def test_a_cluster_url_lists_its_nodes_and_credentials():
    url = parse_cluster_url("redis+cluster://spsync:p%40ss@10.0.0.1:7000,10.0.0.2,[::1]:7002")
    assert url == ClusterUrl(nodes=(("10.0.0.1", 7000), ("10.0.0.2", 6379), ("::1", 7002)),
                             tls=False, username="spsync", password="p@ss")
    assert parse_cluster_url("rediss+cluster://secret@h:1/0").password == "secret"
    assert parse_cluster_url("rediss+cluster://secret@h:1/0").tls


@pytest.mark.parametrize(("url", "says"), [
    ("redis+cluster://user:hunter2@h:7000/3", "database 0 only"),
    ("redis+cluster://user:hunter2@h:port", "port must be a number"),
    ("redis+cluster://user:hunter2@h:70000", "out of range"),
    ("redis+cluster://user:hunter2@:7000", "needs a host"),
    ("redis+cluster://user:hunter2@h:7000?ssl_cert_reqs=none", "takes no options"),
])
def test_a_bad_cluster_url_is_one_clear_line_without_the_password(url, says, monkeypatch):
    with pytest.raises(ValueError, match=says) as caught:
        parse_cluster_url(url)
    assert "hunter2" not in str(caught.value)
    monkeypatch.setenv("REDIS_URL", url)
    with pytest.raises(ConfigError, match=f"^invalid REDIS_URL: .*{says}") as in_settings:
        load_settings()
    assert "hunter2" not in str(in_settings.value)


def test_the_password_stays_out_of_the_parsed_urls_repr():
    assert "hunter2" not in repr(parse_cluster_url("redis+cluster://u:hunter2@h:7000"))


def test_redis_url_takes_a_cluster_and_the_broker_refuses_one():
    assert is_cluster(Settings(redis_url="redis+cluster://h1:7000,h2:7001").redis_url or "")
    with pytest.raises(ValueError, match="cannot use a Redis Cluster as its broker"):
        Settings(broker_url="redis+cluster://h1:7000")


def test_a_cluster_without_a_broker_of_its_own_is_refused_with_what_to_set():
    rt = Runtime(Settings(redis_url="redis+cluster://h1:7000", database_url="postgresql://x/y"))
    with pytest.raises(ConfigError, match="SPSYNC_BROKER_URL"):
        _ = rt.broker_url
    amqp = "amqp://guest:guest@127.0.0.1:5672//"
    rt = Runtime(Settings(redis_url="redis+cluster://h1:7000", broker_url=amqp,
                          database_url="postgresql://x/y"))
    assert rt.broker_url == amqp


def test_plain_urls_still_give_a_plain_client():
    from redis import Redis

    client = sync_client("redis://127.0.0.1:6379/3")  # connects on first use, not here
    assert type(client) is Redis and client.connection_pool.connection_kwargs["db"] == 3


def test_nodes_down_are_counted_apart_from_masters_and_replicas():
    nodes = [{"flags": "myself,master", "connected": True},
             {"flags": "master", "connected": True},
             {"flags": "slave", "connected": True},
             {"flags": "master,fail", "connected": False},
             {"flags": "slave", "connected": False}]
    assert describe_nodes(nodes) == "2 masters, 1 replicas, 2 down"


def _scripts() -> dict[str, str]:
    from worker.spapi import auth

    quota = resources.files("worker.ratelimit")
    return {"bucket.lua": quota.joinpath("bucket.lua").read_text(encoding="utf-8"),
            "auth._RELEASE": auth._RELEASE}


@pytest.mark.parametrize("script", sorted(_scripts()))
def test_every_script_touches_one_key_so_one_slot(script):
    """A script's keys must share a slot on a cluster; spsync's take one key each."""
    code = "\n".join(line.split("--", 1)[0] for line in _scripts()[script].splitlines())
    assert set(re.findall(r"KEYS\[(\d+)\]", code)) == {"1"}
