"""Redis clients for spsync's own keys (quota buckets, LWA token cache, counters), on one
Redis or on a Redis Cluster.

A cluster is spelled ``redis+cluster://[user:password@]host:port[,host:port...]`` (TLS:
``rediss+cluster://``): any reachable node serves to discover the rest, so list several.
Everything spsync keeps in Redis works on a cluster: every script reads and writes one key,
and the keys a call touches together share a hash tag (``docs/architecture.md``, "Redis
Cluster"). Celery's broker cannot be a cluster (kombu's Redis transport needs one server):
with a cluster, ``SPSYNC_BROKER_URL`` names RabbitMQ or a plain Redis.

Callers get redis-py's ``Redis`` or ``RedisCluster`` (sync or asyncio); both answer the
commands spsync uses. The few places where the two differ are here: :func:`mget` and
:func:`cluster_state`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote

import redis
import redis.asyncio as aredis
from redis.asyncio.cluster import ClusterNode as AsyncClusterNode
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.cluster import ClusterNode, RedisCluster
from redis.exceptions import ClusterDownError, RedisClusterException, TryAgainError

CLUSTER_SCHEMES = ("redis+cluster://", "rediss+cluster://")

# What a cluster raises while a master is lost and before its replica has taken over:
# callers treat it as Redis being unreachable for a moment (they wait and retry).
CLUSTER_DOWN = (ClusterDownError, TryAgainError, RedisClusterException)


def is_cluster(url: str) -> bool:
    return url.startswith(CLUSTER_SCHEMES)


@dataclass(frozen=True)
class ClusterUrl:
    nodes: tuple[tuple[str, int], ...]
    tls: bool
    username: str | None
    password: str | None

    def __repr__(self) -> str:  # never the password
        return f"ClusterUrl(nodes={self.nodes!r}, tls={self.tls})"


def parse_cluster_url(url: str) -> ClusterUrl:
    """The nodes and credentials of a ``redis+cluster://`` URL; ValueError (naming no
    secret) if it is not one."""
    scheme = next((s for s in CLUSTER_SCHEMES if url.startswith(s)), None)
    if scheme is None:
        raise ValueError(f"a Redis Cluster URL starts with {' or '.join(CLUSTER_SCHEMES)}")
    rest, _, query = url[len(scheme):].partition("?")
    if query and set(parse_qs(query, keep_blank_values=True)) - {""}:
        raise ValueError("a Redis Cluster URL takes no options (?...)")
    userinfo, at, hosts = rest.rpartition("@")
    if not at:
        userinfo, hosts = "", rest
    hosts, _, db = hosts.partition("/")
    if db not in ("", "0"):
        raise ValueError("a Redis Cluster has database 0 only (drop the /<db>)")
    username, colon, password = userinfo.partition(":")
    if userinfo and not colon:  # redis://secret@host means a password, as in redis-py
        username, password = "", userinfo
    nodes = tuple(_node(part) for part in hosts.split(","))
    return ClusterUrl(nodes, scheme.startswith("rediss"), unquote(username) or None,
                      unquote(password) or None)


def _node(text: str) -> tuple[str, int]:
    text = text.strip()
    if text.startswith("["):  # [IPv6]:port
        host, _, port = text[1:].partition("]")
        port = port.removeprefix(":")
    else:
        host, _, port = text.rpartition(":") if ":" in text else (text, "", "")
    if not host:
        raise ValueError(f"a Redis Cluster node needs a host: {text!r}")
    try:
        number = int(port) if port else 6379
    except ValueError:
        raise ValueError(f"a Redis Cluster node's port must be a number: {text!r}") from None
    if not 0 < number < 65536:
        raise ValueError(f"a Redis Cluster node's port is out of range: {text!r}")
    return host, number


def sync_client(url: str, **kwargs: Any) -> Any:
    """A ``redis.Redis`` for ``url``, or a ``RedisCluster`` for a cluster URL.

    A cluster client starts while some slots have no master (``require_full_coverage``
    off): the sellers whose keys live elsewhere go on; calls to the others wait."""
    if not is_cluster(url):
        return redis.Redis.from_url(url, **kwargs)
    parsed = parse_cluster_url(url)
    nodes = [ClusterNode(h, p) for h, p in parsed.nodes]  # type: ignore[no-untyped-call]
    return RedisCluster(startup_nodes=nodes, require_full_coverage=False,
                        username=parsed.username, password=parsed.password, ssl=parsed.tls,
                        **kwargs)


def async_client(url: str, **kwargs: Any) -> Any:
    """A ``redis.asyncio.Redis`` for ``url``, or an asyncio ``RedisCluster``."""
    if not is_cluster(url):
        return aredis.Redis.from_url(url, **kwargs)
    parsed = parse_cluster_url(url)
    return AsyncRedisCluster(
        startup_nodes=[AsyncClusterNode(h, p) for h, p in parsed.nodes],
        require_full_coverage=False, username=parsed.username, password=parsed.password,
        ssl=parsed.tls, **kwargs)


def client_is_cluster(client: Any) -> bool:
    return isinstance(client, RedisCluster | AsyncRedisCluster)


def mget(client: Any, keys: list[str]) -> list[Any]:
    """``MGET`` on one Redis; on a cluster, one ``MGET`` per slot (keys of many slots)."""
    if client_is_cluster(client):
        return list(client.mget_nonatomic(keys))
    return list(client.mget(keys))


def describe_nodes(nodes: list[dict[str, Any]]) -> str:
    """"3 masters, 3 replicas" from redis-py's ``cluster_nodes()`` values (dead nodes
    aside, counted as "down": failed, suspected or not connected to the node asked)."""
    alive = [n for n in nodes
             if "fail" not in str(n.get("flags", "")) and n.get("connected", True)]
    masters = sum(1 for n in alive if "master" in str(n.get("flags", "")))
    parts = [f"{masters} masters", f"{len(alive) - masters} replicas"]
    if len(alive) < len(nodes):
        parts.append(f"{len(nodes) - len(alive)} down")
    return ", ".join(parts)


class ClusterNotOk(RuntimeError):
    """A cluster whose state is not ``ok`` (some slots have no master); ``line`` says so."""

    def __init__(self, line: str) -> None:
        super().__init__(f"Redis Cluster {line}")
        self.line = line


def cluster_state(client: Any) -> str:
    """A cluster's state in one line (sync client), as the first node that answers sees it:
    ``ok: 3 masters, 3 replicas, 16384/16384 slots ok``. Raises :class:`ClusterNotOk` while
    it is not ``ok`` (slots unserved: calls to them wait), ``ConnectionError`` if no node
    answers."""
    error: Exception = ConnectionError("no Redis Cluster node answers")
    for node in client.get_nodes():
        try:
            info = client.cluster_info(target_nodes=node)
            nodes = client.execute_command("CLUSTER NODES", target_nodes=node)
        except (redis.RedisError, OSError) as exc:
            error = exc
            continue
        return _state_line(info, nodes)
    raise error


async def async_cluster_state(client: Any) -> str:
    """:func:`cluster_state` for an asyncio ``RedisCluster``."""
    error: Exception = ConnectionError("no Redis Cluster node answers")
    # node by node, not through the client: a new client cannot start (it asks a random
    # listed node for the command table) while a dead node is still listed
    known = client.get_nodes() or list(client.nodes_manager.startup_nodes.values())
    for node in known:
        try:
            info = await node.execute_command("CLUSTER INFO")
            nodes = await node.execute_command("CLUSTER NODES")
        except (redis.RedisError, OSError) as exc:
            error = exc
            continue
        return _state_line(info, nodes)
    raise error


def _state_line(info: dict[str, Any], nodes: dict[str, dict[str, Any]]) -> str:
    """From ``CLUSTER INFO`` and ``CLUSTER NODES`` as redis-py parses them (dicts)."""
    state = info.get("cluster_state", "unknown")
    line = (f"{state}: {describe_nodes(list(nodes.values()))}, "
            f"{info.get('cluster_slots_ok', '?')}/16384 slots ok")
    if state != "ok":
        raise ClusterNotOk(line)
    return line
