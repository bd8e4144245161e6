"""Subscribing a seller to notifications delivered to spsync's SQS queue (plain functions).

SP-API delivers notifications only to an SQS queue or EventBridge; spsync uses SQS. Two
kinds of calls are involved (see ``worker/spapi_models/notificationsV1.json``):

- destinations belong to the *application* and are grantless (:class:`GrantlessAuth`: an
  LWA ``client_credentials`` token for ``sellingpartnerapi::notifications``), as are
  ``getSubscriptionById`` and ``deleteSubscriptionById``;
- ``createSubscription`` / ``getSubscription`` are per seller (the seller's token).

:func:`setup` is idempotent: it reuses the destination already created for the queue's
arn (``getDestinations``) and treats "a subscription for this type already exists" (409)
as success by reading it back (``getSubscription``), so running it twice creates nothing
new. :func:`remove` deletes a seller's subscriptions and, only when asked, the
destination (which Amazon refuses while any seller still has a subscription to it).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import structlog

from worker.notifications.envelope import SCHEMAS
from worker.spapi.client import GrantlessAuth, SellerAuth, SpApiClient
from worker.spapi.errors import InputError, NotFoundError

log = structlog.get_logger(__name__)

TYPES: tuple[str, ...] = tuple(SCHEMAS)  # the types spsync's consumer understands
DESTINATION_NAME = "spsync"


@cache
def payload_version(notification_type: str) -> str:
    """The payload version to subscribe with: the one in the type's schema examples
    (``1.0``, ``2020-09-04`` for REPORT_PROCESSING_FINISHED)."""
    name = SCHEMAS[notification_type]
    text = resources.files("worker.spapi_models").joinpath(f"{name}.json").read_text("utf-8")
    props = json.loads(text)["properties"]
    prop = props.get("PayloadVersion") or props["payloadVersion"]
    return str(prop["examples"][0])


@dataclass(frozen=True)
class Subscription:
    notification_type: str
    subscription_id: str
    destination_id: str
    payload_version: str


@dataclass(frozen=True)
class SetupResult:
    destination_id: str
    destination_created: bool  # False: the destination for this arn already existed
    subscriptions: dict[str, Subscription]  # by notification type
    created: tuple[str, ...]  # the types this run subscribed (the others already were)

    @property
    def elsewhere(self) -> dict[str, str]:
        """Types already subscribed to *another* destination (type → its destination id)."""
        return {t: s.destination_id for t, s in self.subscriptions.items()
                if s.destination_id != self.destination_id}


@dataclass(frozen=True)
class RemoveResult:
    removed: dict[str, str]  # type → the subscription id deleted
    destination_deleted: bool


async def setup(client: SpApiClient, app: GrantlessAuth, seller_auth: SellerAuth,
                types: Iterable[str], sqs_arn: str, *,
                destination_name: str = DESTINATION_NAME) -> SetupResult:
    """Make sure notifications of ``types`` for the seller go to the queue ``sqs_arn``."""
    kinds = _checked(types)
    destination_id, created = await _destination(client, app, sqs_arn, destination_name)
    subscriptions: dict[str, Subscription] = {}
    new: list[str] = []
    for kind in kinds:
        sub, made = await _subscribe(client, seller_auth, kind, destination_id)
        subscriptions[kind] = sub
        if made:
            new.append(kind)
        elif sub.destination_id != destination_id:
            log.warning("notifications.subscribed_elsewhere", seller=seller_auth.selling_partner_id,
                        notification_type=kind, destination_id=sub.destination_id)
    log.info("notifications.setup", seller=seller_auth.selling_partner_id,
             destination_id=destination_id, destination_created=created, subscribed=new,
             already=[k for k in kinds if k not in new])
    return SetupResult(destination_id, created, subscriptions, tuple(new))


async def list_subscriptions(client: SpApiClient, seller_auth: SellerAuth,
                             types: Iterable[str] = TYPES) -> dict[str, Subscription | None]:
    """The seller's subscription for each type (None where it has none)."""
    return {kind: await _subscription(client, seller_auth, kind) for kind in _checked(types)}


async def remove(client: SpApiClient, app: GrantlessAuth, seller_auth: SellerAuth,
                 types: Iterable[str] = TYPES, *,
                 delete_destination: bool = False) -> RemoveResult:
    """Delete the seller's subscriptions to ``types``; with ``delete_destination``, also the
    destination they pointed at, unless another seller still uses it (then it is kept)."""
    removed: dict[str, str] = {}
    destinations: set[str] = set()
    for kind, sub in (await list_subscriptions(client, seller_auth, types)).items():
        if sub is None:
            continue
        with contextlib.suppress(NotFoundError):  # gone meanwhile: the outcome we wanted
            await client.call(app, "deleteSubscriptionById", path_params={
                "notificationType": kind, "subscriptionId": sub.subscription_id})
        removed[kind] = sub.subscription_id
        destinations.add(sub.destination_id)
    deleted = False
    if delete_destination:
        deleted = bool(destinations) and all(
            [await _delete_destination(client, app, d) for d in sorted(destinations)])
    log.info("notifications.removed", seller=seller_auth.selling_partner_id,
             types=sorted(removed), destination_deleted=deleted)
    return RemoveResult(removed, deleted)


def _checked(types: Iterable[str]) -> list[str]:
    kinds = list(dict.fromkeys(types))
    unknown = [k for k in kinds if k not in SCHEMAS]
    if unknown:
        raise ValueError(f"unsupported notification types {unknown}; supported: {list(TYPES)}")
    return kinds


async def _destination(client: SpApiClient, app: GrantlessAuth, sqs_arn: str,
                       name: str) -> tuple[str, bool]:
    """(destination id for ``sqs_arn``, whether this call created it)."""
    found = await _find_destination(client, app, sqs_arn)
    if found is not None:
        return found, False
    body = {"name": name, "resourceSpecification": {"sqs": {"arn": sqs_arn}}}
    try:
        resp = await client.call(app, "createDestination", body=body)
    except InputError as exc:
        if exc.status != 409:
            raise
        found = await _find_destination(client, app, sqs_arn)  # created by a concurrent run
        if found is None:
            raise
        return found, False
    return str(_payload(resp.body)["destinationId"]), True


async def _find_destination(client: SpApiClient, app: GrantlessAuth,
                            sqs_arn: str) -> str | None:
    resp = await client.call(app, "getDestinations")
    destinations: Sequence[Any] = (resp.body or {}).get("payload") or []
    for d in destinations:
        sqs = ((d or {}).get("resource") or {}).get("sqs") or {}
        if sqs.get("arn") == sqs_arn:
            return str(d["destinationId"])
    return None


async def _subscribe(client: SpApiClient, seller_auth: SellerAuth, kind: str,
                     destination_id: str) -> tuple[Subscription, bool]:
    body = {"payloadVersion": payload_version(kind), "destinationId": destination_id}
    try:
        resp = await client.call(seller_auth, "createSubscription",
                                 path_params={"notificationType": kind}, body=body)
    except InputError as exc:
        if exc.status != 409:
            raise
        existing = await _subscription(client, seller_auth, kind)
        if existing is None:  # deleted between the two calls: a rerun will create it
            raise
        return existing, False
    return _parse(kind, _payload(resp.body)), True


async def _subscription(client: SpApiClient, seller_auth: SellerAuth,
                        kind: str) -> Subscription | None:
    try:
        resp = await client.call(seller_auth, "getSubscription",
                                 path_params={"notificationType": kind})
    except NotFoundError:
        return None
    return _parse(kind, _payload(resp.body))


async def _delete_destination(client: SpApiClient, app: GrantlessAuth,
                              destination_id: str) -> bool:
    try:
        await client.call(app, "deleteDestination",
                          path_params={"destinationId": destination_id})
    except NotFoundError:
        return True
    except InputError as exc:
        if exc.status != 409:  # 409: other sellers still subscribe to it; keep it
            raise
        return False
    return True


def _payload(body: Any) -> dict[str, Any]:
    payload = body.get("payload") if isinstance(body, dict) else None
    if not isinstance(payload, dict):
        raise ValueError("Notifications API response without a payload object")
    return payload


def _parse(kind: str, payload: dict[str, Any]) -> Subscription:
    return Subscription(kind, str(payload["subscriptionId"]), str(payload["destinationId"]),
                        str(payload["payloadVersion"]))
