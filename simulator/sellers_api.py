"""Sellers API v1 ``getMarketplaceParticipations``: where the authorized seller sells.

What an onboarding flow calls right after exchanging a consent code, to learn the new
seller's marketplaces. The body is the model's ``GetMarketplaceParticipationsResponse``:
one entry per marketplace of the seller the access token belongs to, participating and
without suspended listings, under one store name.
"""

from __future__ import annotations

from typing import Any

from .gateway import Call
from .marketplaces import Marketplace
from .world import Seller


def get_marketplace_participations(call: Call) -> dict[str, Any]:
    """``GET /sellers/v1/marketplaceParticipations`` (no parameters)."""
    store = store_name(call.seller)
    return {"payload": [_participation(m, store) for m in call.seller.marketplaces]}


def store_name(seller: Seller) -> str:
    """A stable, readable store name: the same in every marketplace of the seller."""
    return f"Sandbox Store {seller.index + 1}"


def _participation(marketplace: Marketplace, store: str) -> dict[str, Any]:
    return {
        "marketplace": {
            "id": marketplace.marketplace_id,
            "countryCode": marketplace.country,
            "name": marketplace.name,
            "defaultCurrencyCode": marketplace.currency,
            "defaultLanguageCode": marketplace.language,
            "domainName": marketplace.domain,
        },
        "participation": {"isParticipating": True, "hasSuspendedListings": False},
        "storeName": store,
    }
