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
