"""The inventory sync recipe's allocation (examples/inventory_sync.py): disjoint shares of
the stock, a buffer per offering marketplace, low stock concentrated on the first ones."""

from __future__ import annotations

import pytest

from examples.inventory_sync import split_evenly

MARKETS = ["US", "CA", "MX"]


@pytest.mark.parametrize("buffer", [0, 1, 2])
@pytest.mark.parametrize("markets", [1, 2, 3])
def test_shares_never_add_up_to_more_than_the_stock_less_the_buffers(buffer: int,
                                                                     markets: int) -> None:
    allocate = split_evenly(buffer)
    for available in range(-3, 40):
        quantities = allocate(available, MARKETS[:markets])
        offering = [q for q in quantities.values() if q]
        assert list(quantities) == MARKETS[:markets] and min(quantities.values()) >= 0
        assert sum(quantities.values()) <= max(available, 0) - buffer * len(offering)
        if available >= markets * (buffer + 1):
            assert len(offering) == markets  # enough for all: every marketplace offers
            assert max(quantities.values()) - min(quantities.values()) <= 1


def test_low_stock_goes_to_the_first_marketplaces() -> None:
    allocate = split_evenly(1)
    assert allocate(1, ["US", "CA"]) == {"US": 0, "CA": 0}
    assert allocate(2, ["US", "CA"]) == {"US": 1, "CA": 0}
    assert allocate(3, ["US", "CA"]) == {"US": 2, "CA": 0}
    assert allocate(4, ["US", "CA"]) == {"US": 1, "CA": 1}
    assert allocate(5, ["US", "CA"]) == {"US": 2, "CA": 1}
