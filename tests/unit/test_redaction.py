from __future__ import annotations

import io
import json
import logging

import structlog

from worker.config import Settings
from worker.logging import configure_logging, redact_text


def test_token_shapes_are_redacted_inside_text():
    text = "refresh Atzr|IwEBIA-abc_123 access Atza|IQEBLj.x/y+z= key AKIAABCDEFGHIJKLMNOP"
    out = redact_text(text)
    assert "Atzr|" not in out and "Atza|" not in out and "AKIA" not in out


def test_log_lines_never_carry_secrets():
    stream = io.StringIO()
    configure_logging(Settings(log_format="json"), stream=stream)
    log = structlog.get_logger("t")
    log.info("call", seller="A1", refresh_token="Atzr|zzz", detail="got Atza|yyy back",
             nested={"client_secret": "amzn1.oa2-cs.v1.abc"})
    try:
        raise ValueError("boom Atzr|inexception")
    except ValueError:
        logging.getLogger("std").exception("failed")
    lines = [json.loads(x) for x in stream.getvalue().splitlines()]
    dump = stream.getvalue()
    assert lines[0]["seller"] == "A1"
    for secret in ("Atzr|zzz", "Atza|yyy", "oa2-cs", "Atzr|inexception"):
        assert secret not in dump
    assert "[redacted]" in lines[0]["refresh_token"]


def test_buyer_pii_and_oauth_values_are_redacted_whatever_their_spelling():
    stream = io.StringIO()
    configure_logging(Settings(log_format="json"), stream=stream)
    log = structlog.get_logger("t")
    order_2026 = {"orderId": "111-1", "buyer": {"buyerName": "Jane Roe",
                                                "buyerEmail": "jane@example.com"},
                  "recipient": {"deliveryAddress": {"addressLine1": "5 Elm St"}}}
    order_v0 = {"AmazonOrderId": "111-2", "BuyerInfo": {"BuyerEmail": "joe@example.org"},
                "ShippingAddress": {"AddressLine1": "9 Oak Ave", "Phone": "+1 555 0100"}}
    log.info("debug.payload", order=order_2026, legacy=order_v0,
             url="/oauth/callback?state=s1&spapi_oauth_code=ANsecretcode1&selling_partner_id=A1",
             note="mail sent to someone@example.net", error_code="QuotaExceeded")
    line = json.loads(stream.getvalue().splitlines()[-1])
    dump = json.dumps(line)
    for value in ("Jane Roe", "jane@example.com", "5 Elm St", "joe@example.org", "9 Oak Ave",
                  "555 0100", "ANsecretcode1", "someone@example.net"):
        assert value not in dump
    assert line["order"]["orderId"] == "111-1" and line["legacy"]["AmazonOrderId"] == "111-2"
    assert "state=s1" in line["url"] and "selling_partner_id=A1" in line["url"]
    assert line["error_code"] == "QuotaExceeded"
