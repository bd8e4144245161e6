"""Regions and the marketplaces the simulated sellers sell in.

Ids are Amazon's published marketplace ids. ``price_factor`` turns a catalog price (kept
in USD) into the marketplace currency so a Japanese order looks like yen, not dollars.
``language`` and ``domain`` are what the Sellers API reports as ``defaultLanguageCode``
and ``domainName`` (in the model's example's form: ``en_US``, ``www.amazon.com``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Marketplace:
    marketplace_id: str
    country: str
    currency: str
    name: str  # v0 SalesChannel and 2026 salesChannel.marketplaceName
    price_factor: Decimal
    language: str  # Sellers API defaultLanguageCode
    domain: str  # Sellers API domainName
    whole_units: bool = False  # JPY has no minor unit

    def price(self, usd: Decimal) -> Decimal:
        """Catalog price in this marketplace's currency, always with two decimals."""
        local = usd * self.price_factor
        step = Decimal(1) if self.whole_units else CENT
        return local.quantize(step, rounding=ROUND_HALF_UP).quantize(CENT)


US = Marketplace("ATVPDKIKX0DER", "US", "USD", "Amazon.com", Decimal(1),
                 language="en_US", domain="www.amazon.com")
CA = Marketplace("A2EUQ1WTGCTBG2", "CA", "CAD", "Amazon.ca", Decimal("1.35"),
                 language="en_CA", domain="www.amazon.ca")
DE = Marketplace("A1PA6795UKMFR9", "DE", "EUR", "Amazon.de", Decimal("0.92"),
                 language="de_DE", domain="www.amazon.de")
# More EU marketplaces, for sellers in several (``SimConfig.eu_marketplaces``).
FR = Marketplace("A13V1IB3VIYZZH", "FR", "EUR", "Amazon.fr", Decimal("0.92"),
                 language="fr_FR", domain="www.amazon.fr")
IT = Marketplace("APJ6JRA9NG5V4", "IT", "EUR", "Amazon.it", Decimal("0.92"),
                 language="it_IT", domain="www.amazon.it")
ES = Marketplace("A1RKKUPIHCS9HS", "ES", "EUR", "Amazon.es", Decimal("0.92"),
                 language="es_ES", domain="www.amazon.es")
EU_MARKETPLACES = (DE, FR, IT, ES)
JP = Marketplace("A1VC38T7YXB528", "JP", "JPY", "Amazon.co.jp", Decimal(150),
                 language="ja_JP", domain="www.amazon.co.jp", whole_units=True)

REGIONS: tuple[str, ...] = ("NA", "EU", "FE")
BY_ID: dict[str, Marketplace] = {m.marketplace_id: m for m in (US, CA, *EU_MARKETPLACES, JP)}

# First group of the 3-7-7 AmazonOrderId; cosmetic, but it makes ids look regional.
ORDER_ID_PREFIXES: dict[str, tuple[str, ...]] = {
    "NA": ("111", "112", "113", "114"),
    "EU": ("028", "302", "303", "304", "305", "306"),
    "FE": ("249", "250", "503"),
}


def region_for(index: int) -> str:
    """Seller 0 is NA, 1 is EU, 2 is FE, then the cycle repeats."""
    return REGIONS[index % len(REGIONS)]


def marketplaces_for(index: int, eu_marketplaces: int = 1) -> tuple[Marketplace, ...]:
    """Every seller has its region's main marketplace; every other NA seller also sells in CA;
    EU sellers sell in the first ``eu_marketplaces`` of DE, FR, IT, ES."""
    region = region_for(index)
    if region == "NA":
        return (US, CA) if (index // len(REGIONS)) % 2 == 1 else (US,)
    return EU_MARKETPLACES[:eu_marketplaces] if region == "EU" else (JP,)
