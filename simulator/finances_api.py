"""Finances 2024-06-19 ``listTransactions``, v0 ``listFinancialEventGroups``, v0
``listFinancialEvents`` and ``/_sim/truth/finances``.

The rules the models state in prose:

- ``postedAfter`` is required unless a related identifier is given; it must be more than
  two minutes (120 s / time_scale) before now. ``postedBefore`` must be later than
  ``postedAfter`` and more than two minutes before now, and defaults to two minutes before
  now (fixed on the first page, carried in the token). More than 180 days apart: an empty
  answer. Only ``ORDER_ID`` and ``FINANCIAL_EVENT_GROUP_ID`` filter; name and value come
  together. ``transactionStatus`` is one of the three values its text lists.
  "If you want to retrieve MFN orders in the US store, do not supply the marketplaceId":
  with ``marketplaceId`` = the US marketplace, MFN transactions are left out.
  A ``nextToken`` must come with the same arguments as the call that produced it. The model
  has no page size parameter; pages hold :data:`TRANSACTIONS_PAGE` transactions.
- groups: ``MaxResultsPerPage`` 1-100, default 10 (model); ``FinancialEventGroupStartedAfter``
  (optional, then all time) more than two minutes before now; ``...StartedBefore`` after it
  and more than two minutes before now (no bound when absent); more than 180 days apart:
  none. A ``NextToken`` carries the query; the other filters are not needed with it.
- events: ``MaxResultsPerPage`` 1-100, default 100 (model), counted in events across all the
  lists. ``PostedAfter`` (optional, then all time) more than two minutes before now;
  ``PostedBefore`` only with ``PostedAfter``, later than it and more than two minutes before
  now, default two minutes before now (fixed on the first page, carried in the token); more
  than 180 days apart: an empty answer. A ``NextToken`` carries the query; sent with it,
  ``PostedAfter`` / ``PostedBefore`` must be those of the call that produced it. Pages follow
  the ledger's entry key. "Deferred events don't show up in responses until they are
  released": an entry with a deferral is listed only once ``now`` reaches its maturity, by
  its posted time like any other. A ``ServiceFeeEvent`` (an FBA fee adjustment) has no
  ``PostedDate`` in the model, yet it is listed by its entry's posted time all the same (see
  :mod:`finance_render` for what each event holds).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable
from itertools import islice
from typing import Any

from aiohttp import web

from .errors import invalid_input
from .finance_render import V0_LISTS, event_group, financial_event, group_id, transaction
from .finances import STATUSES, Entry, Ledger
from .gateway import Call
from .marketplaces import US
from .state import Simulator
from .validation import Params
from .windows import timestamp
from .world import Seller

TRANSACTIONS_PAGE = 100
MAX_SPAN = 180 * 86_400
FILTERING_IDENTIFIERS = ("ORDER_ID", "FINANCIAL_EVENT_GROUP_ID")
NAME, VALUE = "relatedIdentifierName", "relatedIdentifierValue"


def list_transactions(call: Call) -> dict[str, Any]:
    signature = {k: v for k, v in call.params.items() if k != "nextToken"}
    if "nextToken" in call.params:
        state = call.sim.tokens.decode(call.params["nextToken"], call.seller.seller_id,
                                       "listTransactions", "nextToken")
        if state["r"] != signature:
            raise invalid_input("'nextToken' must be sent with the same arguments as the "
                                "call that returned it.")
        after, before, last = state["a"], state["b"], tuple(state["k"])
    else:
        after, before = _posted_window(call)
        last = None
    payload: dict[str, Any] = {"transactions": []}
    if "postedAfter" in call.params and before - after > MAX_SPAN:
        return {"payload": payload}
    ledger = call.sim.finances.ledger(call.seller)
    chosen, more = _page(_candidates(call, ledger, after, before), _wanted(call), last,
                         TRANSACTIONS_PAGE)
    seed = call.sim.config.seed
    payload["transactions"] = [transaction(seed, call.seller, e, call.now) for e in chosen]
    if more:
        state = {"a": after, "b": before, "k": list(chosen[-1].key), "r": signature}
        payload["nextToken"] = call.sim.tokens.encode(
            call.seller.seller_id, "listTransactions", state)
    return {"payload": payload}


def _posted_window(call: Call) -> tuple[float, float]:
    p, lag = call.params, call.sim.config.lag_seconds
    if (NAME in p) != (VALUE in p):
        raise invalid_input(f"'{NAME}' and '{VALUE}' must be specified together.")
    if NAME in p and p[NAME] not in FILTERING_IDENTIFIERS:
        raise invalid_input(f"'{NAME}' must be one of {', '.join(FILTERING_IDENTIFIERS)}.")
    if "transactionStatus" in p and p["transactionStatus"] not in STATUSES:
        raise invalid_input(f"'transactionStatus' must be one of {', '.join(STATUSES)}.")
    if "postedAfter" not in p and NAME not in p:
        raise invalid_input("'postedAfter' is required if you do not specify a related "
                            "identifier.")
    return _posted_bounds(p, call.now, lag, "postedAfter", "postedBefore")


def _posted_bounds(p: Params, now: float, lag: float, after_name: str,
                   before_name: str) -> tuple[float, float]:
    """A posted-date window as both finances models state it: the start (default: all time)
    more than ``lag`` before now; the end later than it, more than ``lag`` before now, and
    by default ``lag`` before now."""
    after = timestamp(p, after_name) if after_name in p else 0.0
    if after > now - lag:
        raise invalid_input(f"'{after_name}' must be more than {lag:g} seconds before the "
                            "time of the request.")
    if before_name not in p:
        return after, now - lag
    before = timestamp(p, before_name)
    if before <= after:
        raise invalid_input(f"'{before_name}' must be later than '{after_name}'.")
    if before > now - lag:
        raise invalid_input(f"'{before_name}' must be more than {lag:g} seconds before the "
                            "time of the request.")
    return after, before


def _candidates(call: Call, ledger: Ledger, after: float, before: float) -> list[Entry]:
    """The entries in the window (and of the related identifier), in key order."""
    p = call.params
    if p.get(NAME) == "ORDER_ID":
        found = list(ledger.of_order(p[VALUE]))
    elif p.get(NAME) == "FINANCIAL_EVENT_GROUP_ID":
        found = _group_entries(call, ledger, p[VALUE])
    else:
        return ledger.posted(after, before)
    return [e for e in found if after <= e.posted < before]


def _group_entries(call: Call, ledger: Ledger, wanted: str) -> list[Entry]:
    seed = call.sim.config.seed
    for group, entries in ledger.groups(call.now).items():
        if group_id(seed, call.seller, group) == wanted:
            return entries
    return []


def _wanted(call: Call) -> Callable[[Entry], bool]:
    market, status = call.params.get("marketplaceId"), call.params.get("transactionStatus")

    def keep(e: Entry) -> bool:
        if market is not None and e.marketplace.marketplace_id != market:
            return False
        if market == US.marketplace_id and e.order.fulfillment_channel == "MFN":
            return False  # the model: leave marketplaceId out to get US MFN orders
        return status is None or e.status(call.now) == status

    return keep


def _page(entries: list[Entry], keep: Callable[[Entry], bool], last: tuple[Any, ...] | None,
          size: int) -> tuple[list[Entry], bool]:
    """Up to ``size`` kept entries after the ``last`` key; whether more follow."""
    start = 0 if last is None else bisect.bisect_right(entries, last, key=lambda e: e.key)
    chosen: list[Entry] = []
    for entry in islice(entries, start, None):
        if keep(entry):
            if len(chosen) == size:
                return chosen, True
            chosen.append(entry)
    return chosen, False


def list_financial_event_groups(call: Call) -> dict[str, Any]:
    size = call.params["MaxResultsPerPage"]
    if "NextToken" in call.params:
        state = call.sim.tokens.decode(call.params["NextToken"], call.seller.seller_id,
                                       "listFinancialEventGroups", "NextToken")
        after, before, last = state["a"], state["b"], (state["k"][0], state["k"][1])
    else:
        after, before = _started_window(call.params, call.now, call.sim.config.lag_seconds)
        last = None
    payload: dict[str, Any] = {"FinancialEventGroupList": []}
    if before is not None and before - after > MAX_SPAN:
        return {"payload": payload}
    ledger = call.sim.finances.ledger(call.seller)
    groups = [
        (g, entries) for g, entries in ledger.groups(call.now).items()
        if after <= g.start and (before is None or g.start < before)
        and (last is None or (g.start, g.currency) > last)
    ]
    seed = call.sim.config.seed
    payload["FinancialEventGroupList"] = [
        event_group(seed, call.seller, g, ledger.group_total(g, call.now), call.now)
        for g, _ in groups[:size]
    ]
    if len(groups) > size:
        tail = groups[size - 1][0]
        state = {"a": after, "b": before, "k": [tail.start, tail.currency]}
        payload["NextToken"] = call.sim.tokens.encode(
            call.seller.seller_id, "listFinancialEventGroups", state)
    return {"payload": payload}


def _started_window(params: Params, now: float, lag: float) -> tuple[float, float | None]:
    after_name = "FinancialEventGroupStartedAfter"
    before_name = "FinancialEventGroupStartedBefore"
    after = timestamp(params, after_name) if after_name in params else 0.0
    if after > now - lag:
        raise invalid_input(f"'{after_name}' must be more than {lag:g} seconds before the "
                            "time of the request.")
    if before_name not in params:
        return after, None
    before = timestamp(params, before_name)
    if before <= after:
        raise invalid_input(f"'{before_name}' must be after '{after_name}'.")
    if before > now - lag:
        raise invalid_input(f"'{before_name}' must be more than {lag:g} seconds before the "
                            "time of the request.")
    return after, before


def list_financial_events(call: Call) -> dict[str, Any]:
    size = call.params["MaxResultsPerPage"]
    sent = {k: call.params[k] for k in ("PostedAfter", "PostedBefore") if k in call.params}
    events: dict[str, list[dict[str, Any]]] = {name: [] for name in V0_LISTS}
    payload: dict[str, Any] = {"FinancialEvents": events}
    if "NextToken" in call.params:
        state = call.sim.tokens.decode(call.params["NextToken"], call.seller.seller_id,
                                       "listFinancialEvents", "NextToken")
        if sent and sent != state["r"]:
            raise invalid_input("'NextToken' must be sent with the same arguments as the "
                                "call that returned it.")
        after, before, last = state["a"], state["b"], tuple(state["k"])
    else:
        after, before = _events_window(call)
        last = None
        if "PostedAfter" in sent and before - after > MAX_SPAN:
            return {"payload": payload}
    ledger = call.sim.finances.ledger(call.seller)
    chosen, more = _page(ledger.posted(after, before), lambda e: e.released(call.now), last,
                         size)
    for entry in chosen:
        name, event = financial_event(entry)
        events[name].append(event)
    if more:
        state = {"a": after, "b": before, "k": list(chosen[-1].key), "r": sent}
        payload["NextToken"] = call.sim.tokens.encode(
            call.seller.seller_id, "listFinancialEvents", state)
    return {"payload": payload}


def _events_window(call: Call) -> tuple[float, float]:
    p, lag = call.params, call.sim.config.lag_seconds
    if "PostedBefore" in p and "PostedAfter" not in p:
        raise invalid_input("'PostedAfter' must be specified with 'PostedBefore'.")
    return _posted_bounds(p, call.now, lag, "PostedAfter", "PostedBefore")


# --- /_sim/truth/finances ---------------------------------------------------------------------


def truth(sim: Simulator, seller: Seller) -> dict[str, Any]:
    """What a perfect mirror holds now: every posted transaction, every group and, as
    ``v0_events``, every posted entry listFinancialEvents shows now (never deferred or
    released) as ``{"list": <FinancialEvents list name>, "event": {...}}``, in ledger order."""
    now, seed = sim.clock.now(), sim.config.seed
    ledger = sim.finances.ledger(seller)
    groups = ledger.groups(now)
    posted = ledger.posted(0, math.floor(now) + 1)
    return {
        "transactions": [transaction(seed, seller, e, now) for e in posted],
        "groups": [event_group(seed, seller, g, ledger.group_total(g, now), now)
                   for g in groups],
        "v0_events": [_listed(e) for e in posted if e.released(now)],
    }


def _listed(entry: Entry) -> dict[str, Any]:
    name, event = financial_event(entry)
    return {"list": name, "event": event}


def add_routes(app: web.Application, sim: Simulator) -> None:
    async def route(request: web.Request) -> web.Response:
        seller = sim.world.sellers.get(request.query.get("seller_id", ""))
        if seller is None:
            return web.json_response(
                {"error": f"unknown seller_id {request.query.get('seller_id')!r}"}, status=400)
        return web.json_response(truth(sim, seller))

    app.router.add_get("/_sim/truth/finances", route)
