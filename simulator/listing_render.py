"""A listing rendered as the Listings Items API ``Item``, dataset by dataset.

Attributes use Amazon's product-type attribute names (``item_name``, ``brand``,
``condition_type``, ``purchasable_offer``, ``fulfillment_availability``) with their
usual ``[{value, marketplace_id, ...}]`` shape; ``ItemAttributes`` leaves them open.
FBA listings report their fulfillable quantity under the region's Amazon channel code,
merchant listings the quantity they offer in the marketplace under ``DEFAULT``
(``FulfillmentAvailability`` names no marketplace: both render the first requested one's).
Points appear only in Japan, as the ``Points`` definition says. Attributes a
``patchListingsItem`` changed (``Seller.patched``, per SKU and marketplace) replace the
generated ones, and a patched ``purchasable_offer`` is the offer price everywhere;
``Seller.delisted`` hides a listing in the marketplaces it was deleted from.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from .catalog import AFN, CatalogEntry, Issue, Listing
from .clock import iso
from .marketplaces import Marketplace
from .world import Seller

AFN_CHANNELS = {"NA": "AMAZON_NA", "EU": "AMAZON_EU", "FE": "AMAZON_JP"}
MERCHANT_CHANNEL = "DEFAULT"
_LANGUAGES = {"US": "en_US", "CA": "en_CA", "DE": "de_DE", "FR": "fr_FR", "IT": "it_IT",
              "ES": "es_ES", "JP": "ja_JP"}
_DATASETS = ("summaries", "attributes", "issues", "offers", "fulfillmentAvailability",
             "relationships", "productTypes")


def item(seller: Seller, sku: str, marketplace_ids: list[str],
         included: frozenset[str]) -> dict[str, Any]:
    listing, entry = seller.listings[sku], seller.skus[sku]
    markets = [m for m in seller.marketplaces if m.marketplace_id in marketplace_ids]
    body: dict[str, Any] = {"sku": sku}
    for dataset in _DATASETS:
        if dataset in included:
            body[dataset] = _RENDERERS[dataset](seller, entry, listing, markets)
    return body


def _summaries(seller: Seller, entry: CatalogEntry, listing: Listing,
               markets: list[Marketplace]) -> list[dict[str, Any]]:
    rows = []
    for market in markets:
        row: dict[str, Any] = {
            "marketplaceId": market.marketplace_id,
            "asin": entry.asin,
            "productType": entry.product_type,
            "conditionType": "new_new",
            "status": listing.status,
        }
        if entry.fnsku:
            row["fnSku"] = entry.fnsku
        row.update({
            "itemName": entry.title,
            "createdDate": iso(listing.created),
            "lastUpdatedDate": iso(listing.last_updated),
            "mainImage": {"link": image_link(entry), "height": 500, "width": 500},
        })
        rows.append(row)
    return rows


def image_link(entry: CatalogEntry) -> str:
    return f"https://m.media-amazon.com/images/I/{entry.asin}._SL500_.jpg"


def _attributes(seller: Seller, entry: CatalogEntry, listing: Listing,
                markets: list[Marketplace]) -> dict[str, Any]:
    merged: dict[str, list[dict[str, Any]]] = {}
    for market in markets:
        patched = seller.patched.get((entry.sku, market.marketplace_id), {})
        for name, values in {**_generated(entry, market), **patched}.items():
            if values is not None:  # None: deleted by a patch
                merged.setdefault(name, []).extend(values)
    merged["fulfillment_availability"] = [
        {"fulfillment_channel_code": a["fulfillmentChannelCode"], "quantity": a["quantity"]}
        for a in _availability(seller, entry, listing, markets)
    ]
    return merged


def _generated(entry: CatalogEntry, m: Marketplace) -> dict[str, list[dict[str, Any]] | None]:
    price = entry.price(m)
    return {
        "item_name": [{"value": entry.title, "language_tag": _LANGUAGES.get(m.country, "en_US"),
                       "marketplace_id": m.marketplace_id}],
        "brand": [{"value": "Sandbox Brand", "marketplace_id": m.marketplace_id}],
        "condition_type": [{"value": "new_new", "marketplace_id": m.marketplace_id}],
        "purchasable_offer": [{"marketplace_id": m.marketplace_id, "currency": m.currency,
                               "our_price": [{"schedule": [{"value_with_tax": float(price)}]}]}],
    }


def offer_price(seller: Seller, entry: CatalogEntry, market: Marketplace) -> Decimal | None:
    """The offer price in ``market``: a patched ``purchasable_offer``'s, else the catalog's;
    None once a patch deleted the offer."""
    patched = seller.patched.get((entry.sku, market.marketplace_id), {})
    if "purchasable_offer" not in patched:
        return entry.price(market)
    offers = patched["purchasable_offer"]
    if not offers:
        return None
    value = offers[0]["our_price"][0]["schedule"][0]["value_with_tax"]
    return Decimal(str(value)).quantize(Decimal("0.01"))


def _issues(seller: Seller, entry: CatalogEntry, listing: Listing,
            markets: list[Marketplace]) -> list[dict[str, Any]]:
    return [issue_body(issue, [m.marketplace_id for m in markets]) for issue in listing.issues]


def issue_body(issue: Issue, marketplace_ids: list[str]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": issue.code,
        "message": issue.message,
        "severity": issue.severity,
        "attributeNames": list(issue.attribute_names),
        "categories": list(issue.categories),
    }
    if issue.suppresses:
        body["enforcements"] = {
            "actions": [{"action": "LISTING_SUPPRESSED"}],
            "exemption": {"status": "NOT_EXEMPT"},
        }
    body["marketplaceIds"] = marketplace_ids
    return body


def _offers(seller: Seller, entry: CatalogEntry, listing: Listing,
            markets: list[Marketplace]) -> list[dict[str, Any]]:
    offers = []
    for market in markets:
        price = offer_price(seller, entry, market)
        if price is None:
            continue
        offer: dict[str, Any] = {
            "marketplaceId": market.marketplace_id,
            "offerType": "B2C",
            "price": {"currencyCode": market.currency, "amount": f"{price:.2f}"},
        }
        if market.country == "JP":
            offer["points"] = {"pointsNumber": int(price / Decimal(100))}
        offer["audience"] = {"value": "ALL", "displayName": "All Buyers"}
        offers.append(offer)
    return offers


def _availability(seller: Seller, entry: CatalogEntry, listing: Listing,
                  markets: list[Marketplace]) -> list[dict[str, Any]]:
    if entry.channel != AFN:  # one entry, no marketplace in it: the first requested one's
        quantity = listing.quantity(markets[0].marketplace_id) if markets else 0
        return [{"fulfillmentChannelCode": MERCHANT_CHANNEL, "quantity": quantity}]
    quantity = sum(
        seller.stock[(m.marketplace_id, entry.sku)].fulfillable
        for m in markets[:1]
        if (m.marketplace_id, entry.sku) in seller.stock
    )
    return [{"fulfillmentChannelCode": AFN_CHANNELS[seller.region], "quantity": quantity}]


def _relationships(seller: Seller, entry: CatalogEntry, listing: Listing,
                   markets: list[Marketplace]) -> list[dict[str, Any]]:
    return [{"marketplaceId": m.marketplace_id, "relationships": []} for m in markets]


def _product_types(seller: Seller, entry: CatalogEntry, listing: Listing,
                   markets: list[Marketplace]) -> list[dict[str, Any]]:
    return [{"marketplaceId": m.marketplace_id, "productType": entry.product_type}
            for m in markets]


Renderer = Callable[[Seller, CatalogEntry, Listing, list[Marketplace]], Any]
_RENDERERS: dict[str, Renderer] = {
    "summaries": _summaries,
    "attributes": _attributes,
    "issues": _issues,
    "offers": _offers,
    "fulfillmentAvailability": _availability,
    "relationships": _relationships,
    "productTypes": _product_types,
}


def truth(seller: Seller) -> list[dict[str, Any]]:
    """``/_sim/truth/listings`` rows: one per (SKU, marketplace), SKU order. Merchant (MFN)
    rows add ``quantity`` (offered there), ``onHand`` (the merchant's stock, the SKU's in
    every row) and ``oversold`` (units sold there beyond ``onHand``); FBA rows have None."""
    return [
        {
            "sku": sku,
            "marketplaceId": market.marketplace_id,
            "status": seller.listings[sku].status,
            "asin": seller.skus[sku].asin,
            "issues": [{"code": i.code, "severity": i.severity}
                       for i in seller.listings[sku].issues],
            "price": _price_text(offer_price(seller, seller.skus[sku], market)),
            **_stock_truth(seller.skus[sku], seller.listings[sku], market.marketplace_id),
        }
        for sku in sorted(seller.listings)
        for market in seller.marketplaces
        if (sku, market.marketplace_id) not in seller.delisted
    ]


def _stock_truth(entry: CatalogEntry, listing: Listing, market: str) -> dict[str, int | None]:
    if entry.channel == AFN:
        return {"quantity": None, "onHand": None, "oversold": None}
    return {"quantity": listing.quantity(market), "onHand": listing.on_hand,
            "oversold": listing.oversold.get(market, 0)}


def _price_text(price: Decimal | None) -> str | None:
    return None if price is None else f"{price:.2f}"
