"""Selling partner ids: Amazon's merchant tokens pass, anything else is refused without an echo."""

from __future__ import annotations

import pytest

from worker.spapi.identifiers import (
    InvalidSellerIdError,
    check_selling_partner_id,
    is_selling_partner_id,
)


@pytest.mark.parametrize("spid", ["A2EUQ1WTGCTBG2", "AZ6UPKA4FTQ5O", "A1", "A" + "7" * 31])
def test_merchant_tokens_pass(spid):
    assert check_selling_partner_id(spid) == spid and is_selling_partner_id(spid)


@pytest.mark.parametrize("spid", [
    "", "A", "a2euq1wtgctbg2", "12345678", "A" * 33, "A1\x00", "A1\n", "A1 B", "<script>",
    "\U0001f600", "\uff211", "A1-B2", None, 12345,
])
def test_anything_else_is_refused_without_echoing_it(spid):
    assert not is_selling_partner_id(spid)
    with pytest.raises(InvalidSellerIdError) as exc:
        check_selling_partner_id(spid)  # type: ignore[arg-type]
    assert len(str(spid)) < 4 or str(spid) not in str(exc.value)
