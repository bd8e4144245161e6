"""SP-API regions: endpoints (production and sandbox) and the marketplaces each one serves."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Region:
    code: str  # "NA" | "EU" | "FE"
    aws_region: str  # for optional SigV4 signing
    endpoint: str
    sandbox_endpoint: str
    seller_central: str  # where a seller of this region grants consent (OAuth start)


REGIONS: dict[str, Region] = {
    "NA": Region(
        "NA", "us-east-1",
        "https://sellingpartnerapi-na.amazon.com",
        "https://sandbox.sellingpartnerapi-na.amazon.com",
        "https://sellercentral.amazon.com",
    ),
    "EU": Region(
        "EU", "eu-west-1",
        "https://sellingpartnerapi-eu.amazon.com",
        "https://sandbox.sellingpartnerapi-eu.amazon.com",
        "https://sellercentral-europe.amazon.com",
    ),
    "FE": Region(
        "FE", "us-west-2",
        "https://sellingpartnerapi-fe.amazon.com",
        "https://sandbox.sellingpartnerapi-fe.amazon.com",
        "https://sellercentral.amazon.co.jp",
    ),
}

# Marketplace id -> (region, country, currency).
MARKETPLACES: dict[str, tuple[str, str, str]] = {
    "ATVPDKIKX0DER": ("NA", "US", "USD"),
    "A2EUQ1WTGCTBG2": ("NA", "CA", "CAD"),
    "A1AM78C64UM0Y8": ("NA", "MX", "MXN"),
    "A2Q3Y263D00KWC": ("NA", "BR", "BRL"),
    "A1PA6795UKMFR9": ("EU", "DE", "EUR"),
    "A1F83G8C2ARO7P": ("EU", "GB", "GBP"),
    "A13V1IB3VIYZZH": ("EU", "FR", "EUR"),
    "APJ6JRA9NG5V4": ("EU", "IT", "EUR"),
    "A1RKKUPIHCS9HS": ("EU", "ES", "EUR"),
    "A1805IZSGTT6HS": ("EU", "NL", "EUR"),
    "A2NODRKZP88ZB9": ("EU", "SE", "SEK"),
    "A1C3SOZRARQ6R3": ("EU", "PL", "PLN"),
    "A33AVAJ2PDY3EV": ("EU", "TR", "TRY"),
    "A21TJRUUN4KGV": ("EU", "IN", "INR"),
    "A2VIGQ35RCS4UG": ("EU", "AE", "AED"),
    "A17E79C6D8DWNP": ("EU", "SA", "SAR"),
    "ARBP9OOSHTCHU": ("EU", "EG", "EGP"),
    "AMEN7PMS3EDWL": ("EU", "BE", "EUR"),
    "A1VC38T7YXB528": ("FE", "JP", "JPY"),
    "A39IBJ37TRP1C6": ("FE", "AU", "AUD"),
    "A19VAU5U5O7RUS": ("FE", "SG", "SGD"),
}

# A flat file's ``sales-channel`` (the marketplace's storefront) -> marketplace id.
SALES_CHANNELS: dict[str, str] = {
    "Amazon.com": "ATVPDKIKX0DER", "Amazon.ca": "A2EUQ1WTGCTBG2",
    "Amazon.com.mx": "A1AM78C64UM0Y8", "Amazon.com.br": "A2Q3Y263D00KWC",
    "Amazon.de": "A1PA6795UKMFR9", "Amazon.co.uk": "A1F83G8C2ARO7P",
    "Amazon.fr": "A13V1IB3VIYZZH", "Amazon.it": "APJ6JRA9NG5V4", "Amazon.es": "A1RKKUPIHCS9HS",
    "Amazon.nl": "A1805IZSGTT6HS", "Amazon.se": "A2NODRKZP88ZB9", "Amazon.pl": "A1C3SOZRARQ6R3",
    "Amazon.com.tr": "A33AVAJ2PDY3EV", "Amazon.in": "A21TJRUUN4KGV",
    "Amazon.ae": "A2VIGQ35RCS4UG", "Amazon.sa": "A17E79C6D8DWNP", "Amazon.eg": "ARBP9OOSHTCHU",
    "Amazon.com.be": "AMEN7PMS3EDWL", "Amazon.co.jp": "A1VC38T7YXB528",
    "Amazon.com.au": "A39IBJ37TRP1C6", "Amazon.sg": "A19VAU5U5O7RUS",
}


class UnknownRegionError(ValueError):
    pass


def region(code: str) -> Region:
    try:
        return REGIONS[code.upper()]
    except KeyError:
        raise UnknownRegionError(f"unknown region {code!r} (expected NA, EU or FE)") from None


def check_marketplaces(region_code: str, marketplace_ids: list[str]) -> None:
    """Raise ValueError when there is no marketplace id, or one is unknown or belongs to
    another region (a seller with none would be enabled and sync nothing)."""
    if not marketplace_ids:
        raise ValueError("--marketplace-ids must name at least one marketplace id")
    for mid in marketplace_ids:
        info = MARKETPLACES.get(mid)
        if info is None:
            raise ValueError(f"unknown marketplace id {mid!r}")
        if info[0] != region_code.upper():
            raise ValueError(
                f"marketplace {mid} ({info[1]}) is in region {info[0]}, not {region_code}")
