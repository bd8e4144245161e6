"""Catalog Items 2022-04-01 ``searchCatalogItems`` by identifiers, and ``/_sim/truth/catalog``.

Amazon's catalog here is every ASIN some seller of the world carries (``Seller.skus``); an
identifier search returns the items of the ASINs it names that the catalog has, in the
marketplace asked for, with the datasets of ``includedData`` (default ``summaries``, as the
model says). Each item is a pure function of the seed, the ASIN, the marketplace and the
simulated day: its sales rank moves from one day to the next, the rest stays.

The rules the model states: ``identifiers`` (at most 20) needs ``identifiersType``;
``identifiers`` and ``keywords`` never together; ``marketplaceIds`` exactly one (max count 1).
Only ``identifiersType=ASIN`` is served (the other types need data the simulator does not
keep): anything else is answered 400, as an unsupported input. A keyword search is refused
the same way.
"""

from __future__ import annotations

import hashlib
from typing import Any

from aiohttp import web

from .catalog import CatalogEntry
from .errors import invalid_input
from .gateway import Call
from .state import Simulator
from .world import World

DAY = 86_400
DEFAULT_DATA = ("summaries",)


def _number(*parts: object) -> int:
    return int.from_bytes(hashlib.blake2b(":".join(map(str, parts)).encode(),
                                          digest_size=8).digest(), "big")


def catalog_of(world: World) -> dict[str, CatalogEntry]:
    """Every ASIN of the world, by ASIN (the first seller's entry for an ASIN two carry)."""
    found: dict[str, CatalogEntry] = {}
    for seller in world.sellers.values():
        for entry in seller.skus.values():
            found.setdefault(entry.asin, entry)
    return found


def item(seed: int, entry: CatalogEntry, marketplace_id: str, now: float,
         included: tuple[str, ...]) -> dict[str, Any]:
    """One ``Item`` with the ``included`` datasets, in the model's property order."""
    n = _number(seed, entry.asin)
    body: dict[str, Any] = {"asin": entry.asin}
    if "classifications" in included:
        body["classifications"] = [{"marketplaceId": marketplace_id, "classifications": [
            {"displayName": _group(n), "classificationId": str(1000 + n % 9000)}]}]
    if "dimensions" in included:
        inches = {"unit": "inches"}
        body["dimensions"] = [{"marketplaceId": marketplace_id, "item": {
            "height": {**inches, "value": 1 + n % 12}, "length": {**inches, "value": 2 + n % 17},
            "weight": {"unit": "pounds", "value": round(0.2 + (n % 50) / 10, 2)},
            "width": {**inches, "value": 1 + n % 9}}}]
    if "identifiers" in included:
        body["identifiers"] = [{"marketplaceId": marketplace_id, "identifiers": [
            {"identifierType": "EAN", "identifier": f"{n % 10**13:013d}"}]}]
    if "images" in included:
        body["images"] = [{"marketplaceId": marketplace_id, "images": [
            {"variant": "MAIN", "link": f"https://m.media-amazon.com/images/I/{entry.asin}.jpg",
             "height": 500, "width": 500}]}]
    if "productTypes" in included:
        body["productTypes"] = [{"marketplaceId": marketplace_id,
                                 "productType": entry.product_type}]
    if "salesRanks" in included:
        day = int(now // DAY)
        body["salesRanks"] = [{"marketplaceId": marketplace_id, "classificationRanks": [
            {"classificationId": str(1000 + n % 9000), "title": _group(n),
             "rank": 1 + _number(seed, entry.asin, marketplace_id, day) % 200_000}]}]
    if "summaries" in included:
        body["summaries"] = [{
            "marketplaceId": marketplace_id, "brand": f"Brand {n % 97}",
            "browseClassification": {"displayName": _group(n),
                                     "classificationId": str(1000 + n % 9000)},
            "itemName": entry.title, "manufacturer": f"Maker {n % 53}",
        }]
    return body


def _group(n: int) -> str:
    return ("Kitchen", "Toys & Games", "Sports", "Home", "Office Products")[n % 5]


def search_catalog_items(call: Call) -> dict[str, Any]:
    p = call.params
    if "keywords" in p:
        raise invalid_input("The simulator serves searches by identifiers only.")
    if "identifiers" not in p:
        raise invalid_input("Either 'identifiers' or 'keywords' is required.")
    if "identifiersType" not in p:
        raise invalid_input("'identifiersType' is required when 'identifiers' is provided.")
    if p["identifiersType"] != "ASIN":
        raise invalid_input("The simulator serves identifiersType ASIN only.")
    (market,) = p["marketplaceIds"]
    included = tuple(p.get("includedData") or DEFAULT_DATA)
    known = catalog_of(call.sim.world)
    seed = call.sim.config.seed
    asked = list(dict.fromkeys(p["identifiers"]))
    items = [item(seed, known[a], market, call.now, included) for a in asked if a in known]
    return {"numberOfResults": len(items), "items": items}


def add_routes(app: web.Application, sim: Simulator) -> None:
    async def truth(request: web.Request) -> web.Response:
        """``{"items": [...]}``: what searchCatalogItems returns now for ``asins``
        (comma-separated) in ``marketplace_id``, with every dataset the stream asks for."""
        asins = [a for a in request.query.get("asins", "").split(",") if a]
        market = request.query.get("marketplace_id", "")
        known = catalog_of(sim.world)
        data = ("summaries", "classifications", "dimensions", "identifiers", "images",
                "productTypes", "salesRanks")
        return web.json_response({"items": [
            item(sim.config.seed, known[a], market, sim.clock.now(), data)
            for a in asins if a in known]})

    app.router.add_get("/_sim/truth/catalog", truth)
