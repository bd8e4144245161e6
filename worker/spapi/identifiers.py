"""What Amazon's seller identifiers look like, checked before anything else happens.

A selling partner id (Amazon's "merchant token", e.g. ``A2EUQ1WTGCTBG2``) is a short run of
uppercase letters and digits. It arrives from places spsync does not control: the OAuth
callback's query string, an operator's command line. Anything else (emoji, markup, NUL,
5,000 characters) is refused with one line, before a code is exchanged or a row written.
"""

from __future__ import annotations

import re

# Amazon documents no grammar; every merchant token seen is uppercase alphanumerics, 10-20
# long. The bounds leave room either side without admitting anything that is not an id.
_SELLING_PARTNER_ID = re.compile(r"[A-Z][A-Z0-9]{1,31}")


class InvalidSellerIdError(ValueError):
    """Not a selling partner id; the message is safe to show (it never echoes the input)."""


def check_selling_partner_id(value: str) -> str:
    """``value`` if it is a well-formed selling partner id, else :class:`InvalidSellerIdError`."""
    if not isinstance(value, str) or not _SELLING_PARTNER_ID.fullmatch(value):
        raise InvalidSellerIdError(
            "selling partner id must be 2 to 32 uppercase letters and digits, starting with "
            "a letter (Amazon's merchant token, e.g. A2EUQ1WTGCTBG2)")
    return value


def is_selling_partner_id(value: object) -> bool:
    return isinstance(value, str) and _SELLING_PARTNER_ID.fullmatch(value) is not None
