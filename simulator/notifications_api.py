"""Notifications API v1: destinations (grantless) and each seller's subscriptions.

Bodies are checked against the model's request definitions (:mod:`bodies`), plus what the
walker does not cover: the SQS arn's ``pattern``/``maxLength``, the destination name's
``maxLength``, "one resource type per destination", ``EventFilter``'s ``allOf`` and
``filterExpression`` (not supported here: 400, rather than accepting a filter and
ignoring it). A destination is the application's; creating a second one for the same SQS
arn (or EventBridge account and region) is 409 ``Conflict``, as Amazon answers. A
subscription belongs to one seller and notification type; a second one is 409, and a
destination with subscriptions cannot be deleted (409). Supported types and payload
versions: :data:`publisher.TYPES`, :func:`publisher.payload_versions`. State lives in
:class:`publisher.Notifications`, which also publishes the messages.
"""

from __future__ import annotations

import re
from typing import Any

from . import bodies
from .errors import conflict, invalid_input, not_found
from .gateway import Call
from .publisher import (
    ORDER_CHANGE,
    TYPES,
    Destination,
    Notifications,
    Subscription,
    payload_versions,
)
from .spec import NOTIFICATIONS, definition

_SQS = definition(NOTIFICATIONS, "SqsResource")["properties"]["arn"]
_ARN = re.compile(_SQS["pattern"])
_NAME_MAX = int(definition(NOTIFICATIONS, "Destination")["properties"]["name"]["maxLength"])
EVENT_BRIDGE_SOURCE = "aws.partner/sellingpartnerapi.amazon/{application_id}"


def _book(call: Call) -> Notifications:
    return call.sim.notifications


def create_destination(call: Call) -> dict[str, Any]:
    spec = bodies.parse(NOTIFICATIONS, call.op.body or "", call.body)
    name: str = spec["name"]
    if not name or len(name) > _NAME_MAX:
        raise invalid_input(f"'name' must be 1 to {_NAME_MAX} characters long.")
    resource = _resource(call, spec["resourceSpecification"])
    book = _book(call)
    existing = book.destination_like(resource)
    if existing is not None:
        what = (f"arn {resource['sqs']['arn']}" if "sqs" in resource
                else "that EventBridge account and region")
        raise conflict(f"A destination with {what} already exists for the application "
                       f"{book.application_id}")
    return {"payload": book.add_destination(name, resource).render()}


def _resource(call: Call, spec: dict[str, Any]) -> dict[str, Any]:
    kinds = [k for k in ("sqs", "eventBridge") if k in spec]
    if len(kinds) != 1:
        raise invalid_input("'resourceSpecification' must name exactly one of sqs or "
                            "eventBridge.")
    if kinds == ["sqs"]:
        arn: str = spec["sqs"]["arn"]
        if len(arn) > int(_SQS["maxLength"]) or not _ARN.match(arn) or arn.count(":") != 5:
            raise invalid_input(f"'resourceSpecification.sqs.arn' must look like "
                                f"arn:aws:sqs:<region>:<account>:<queue>; got '{arn[:100]}'.")
        return {"sqs": {"arn": arn}}
    bridge = spec["eventBridge"]
    name = EVENT_BRIDGE_SOURCE.format(application_id=_book(call).application_id)
    return {"eventBridge": {"name": name, "region": bridge["region"],
                            "accountId": bridge["accountId"]}}


def get_destinations(call: Call) -> dict[str, Any]:
    return {"payload": [d.render() for d in _book(call).destinations.values()]}


def get_destination(call: Call) -> dict[str, Any]:
    return {"payload": _destination(call).render()}


def delete_destination(call: Call) -> dict[str, Any]:
    destination = _destination(call)
    book = _book(call)
    if book.subscribed_to(destination.destination_id):
        raise conflict("Destination has subscriptions; delete them first.")
    book.remove_destination(destination.destination_id)
    return {}


def _destination(call: Call) -> Destination:
    destination_id: str = call.params["destinationId"]
    destination = _book(call).destinations.get(destination_id)
    if destination is None:
        raise not_found(f"Destination '{destination_id}' was not found.")
    return destination


def create_subscription(call: Call) -> dict[str, Any]:
    kind = _type(call)
    spec = bodies.parse(NOTIFICATIONS, call.op.body or "", call.body)
    version: str = spec["payloadVersion"]
    if version not in payload_versions(kind):
        allowed = ", ".join(payload_versions(kind))
        raise invalid_input(f"'payloadVersion' {version!r} is not supported for {kind}; "
                            f"supported: {allowed}.")
    book = _book(call)
    destination_id: str = spec["destinationId"]
    if destination_id not in book.destinations:
        raise invalid_input(f"Destination '{destination_id}' does not exist.")
    directive = spec.get("processingDirective")
    if directive is not None:
        _check_directive(kind, directive)
    if book.subscription(call.seller.seller_id, kind) is not None:
        raise conflict(f"A subscription for {kind} already exists for this selling partner.")
    sub = book.add_subscription(call.seller.seller_id, kind, version, destination_id, directive)
    return {"payload": sub.render()}


def _check_directive(kind: str, directive: dict[str, Any]) -> None:
    if "filterExpression" in directive:
        raise invalid_input("'processingDirective.filterExpression' is not supported by the "
                            "simulator.")
    event_filter = directive.get("eventFilter")
    if event_filter is None:
        return
    where = "processingDirective.eventFilter"
    for part in definition(NOTIFICATIONS, "EventFilter")["allOf"]:
        bodies.check(NOTIFICATIONS, part, event_filter, where)
    if event_filter["eventFilterType"] != kind or kind != ORDER_CHANGE:
        raise invalid_input(f"'{where}.eventFilterType' {event_filter['eventFilterType']!r} "
                            f"is not supported for {kind}.")


def get_subscription(call: Call) -> dict[str, Any]:
    kind = _type(call)
    sub = _book(call).subscription(call.seller.seller_id, kind)
    version = call.params.get("payloadVersion")
    if sub is None or (version is not None and sub.payload_version != version):
        raise not_found(f"No subscription for {kind} was found.")
    return {"payload": sub.render()}


def get_subscription_by_id(call: Call) -> dict[str, Any]:
    return {"payload": _by_id(call).render()}


def delete_subscription_by_id(call: Call) -> dict[str, Any]:
    _book(call).remove_subscription(_by_id(call).subscription_id)
    return {}


def _by_id(call: Call) -> Subscription:
    kind = _type(call)
    subscription_id: str = call.params["subscriptionId"]
    sub = _book(call).subscriptions.get(subscription_id)
    if sub is None or sub.notification_type != kind:
        raise not_found(f"Subscription '{subscription_id}' for {kind} was not found.")
    return sub


def _type(call: Call) -> str:
    kind: str = call.params["notificationType"]
    if kind not in TYPES:
        raise invalid_input(f"'notificationType' {kind[:80]!r} is not supported; supported: "
                            f"{', '.join(TYPES)}.")
    return kind
