"""One typed settings object, read from the environment once (`.env.example` lists every key).

Nothing else in spsync reads ``os.environ``: code receives a :class:`Settings` (or the
process-wide one from :func:`get_settings`) and a bad value stops start-up with one line.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from worker.redis_clients import is_cluster, parse_cluster_url

REGIONS = ("NA", "EU", "FE")
# What every stream kind may let a deployment tune, as SPSYNC_<KIND>_<KNOB>. Which kinds
# exist, and which knobs each one takes, is declared in worker/sync/registry.py.
STREAM_KNOBS = ("interval_seconds", "lag_seconds", "overlap_seconds", "max_window_hours",
                "initial_days", "page_size", "period")
_KNOB_NAME = re.compile(rf"([a-z][a-z0-9_]*?)_({'|'.join(STREAM_KNOBS)})")


class ConfigError(Exception):
    """A setting is missing or malformed; the message is one line an operator can act on."""


@dataclass(frozen=True)
class ConfiguredReport:
    """A report type a deployment syncs as a stream of its own into ``report_rows``
    (``SPSYNC_REPORT_STREAMS``), beside the typed ones spsync declares."""

    report_type: str
    interval: timedelta
    lookback: timedelta


_REPORT_TYPE = re.compile(r"GET_[A-Z0-9_]{1,120}")


def report_streams(value: str) -> tuple[ConfiguredReport, ...]:
    """``SPSYNC_REPORT_STREAMS``: comma-separated ``TYPE[:INTERVAL_HOURS[:LOOKBACK_DAYS]]``
    (defaults 24 hours and 30 days), e.g.
    ``GET_FBA_FULFILLMENT_LONGTERM_STORAGE_FEE_CHARGES_DATA:24:60``."""
    found: dict[str, ConfiguredReport] = {}
    for entry in filter(None, (e.strip() for e in value.split(","))):
        parts = entry.split(":")
        if len(parts) > 3 or not _REPORT_TYPE.fullmatch(parts[0]):
            raise ConfigError(f"invalid SPSYNC_REPORT_STREAMS entry {entry[:80]!r}: expected "
                              "TYPE[:INTERVAL_HOURS[:LOOKBACK_DAYS]], TYPE like GET_..._DATA")
        try:
            hours = float(parts[1]) if len(parts) > 1 and parts[1] else 24.0
            days = float(parts[2]) if len(parts) > 2 and parts[2] else 30.0
        except ValueError:
            raise ConfigError(f"invalid SPSYNC_REPORT_STREAMS entry {entry[:80]!r}: hours and "
                              "days are numbers") from None
        if not (1 / 60 <= hours <= 24 * 31 and 0 <= days <= 730):
            raise ConfigError(f"invalid SPSYNC_REPORT_STREAMS entry {entry[:80]!r}: between "
                              "1 minute and 31 days apart, looking back at most 730 days")
        if parts[0] in found:
            raise ConfigError(f"SPSYNC_REPORT_STREAMS names {parts[0]} twice")
        found[parts[0]] = ConfiguredReport(parts[0], timedelta(hours=hours),
                                           timedelta(days=days))
    return tuple(found.values())


class StreamSettings(BaseModel):
    """One stream kind's knobs as a deployment set them (None: the kind's declaration)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    interval_seconds: float | None = Field(default=None, gt=0)
    lag_seconds: float | None = Field(default=None, ge=0)
    overlap_seconds: float | None = Field(default=None, ge=0)
    max_window_hours: float | None = Field(default=None, gt=0)
    initial_days: float | None = Field(default=None, gt=0)
    page_size: int | None = Field(default=None, ge=1, le=100)  # SP-API pages hold 100 at most
    # reportPeriod of a kind read in whole periods (Brand Analytics); the kind checks it takes it
    period: Literal["DAY", "WEEK", "MONTH", "QUARTER"] | None = None


_NO_KNOBS = StreamSettings()


class _StreamKnobSource(PydanticBaseSettingsSource):
    """``SPSYNC_<KIND>_<KNOB>`` variables, for any kind: the registry, not this module, knows
    the kinds, and a variable of a kind that takes no such knob is left unused."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        found = {}
        for var, value in os.environ.items():
            name = var.lower().removeprefix("spsync_")
            if var.upper().startswith("SPSYNC_") and _is_knob(name):
                found[name] = value
        return found


def _is_knob(name: str) -> bool:
    return bool(_KNOB_NAME.fullmatch(name)) and name not in Settings.model_fields


CLUSTER_BROKER = ("Celery cannot use a Redis Cluster as its broker: set SPSYNC_BROKER_URL to "
                  "amqp://... (RabbitMQ) or a plain redis://...")
_REDIS_SCHEMES = ("redis://", "rediss://", "unix://", "redis+socket://")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SPSYNC_", extra="ignore", frozen=True, populate_by_name=True
    )

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _StreamKnobSource(settings_cls), dotenv_settings,
                file_secret_settings)

    # --- services (unset = embedded servers under data_dir) ---
    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")
    redis_url: str | None = Field(default=None, validation_alias="REDIS_URL")
    broker_url: str | None = None
    data_dir: str = ".spsync"

    # --- Login with Amazon + SP-API ---
    lwa_client_id: str | None = None
    lwa_client_secret: SecretStr | None = None
    lwa_app_id: str | None = None  # the SP-API application id (amzn1.sp.solution...)
    lwa_token_url: AnyHttpUrl = AnyHttpUrl("https://api.amazon.com/auth/o2/token")
    spapi_url: AnyHttpUrl | None = None  # one base URL for every region (the simulator)
    spapi_sandbox: bool = False  # use Amazon's sandbox hosts
    regions: Annotated[tuple[str, ...], NoDecode] = REGIONS  # this deployment syncs these
    aws_access_key_id: str | None = None
    aws_secret_access_key: SecretStr | None = None
    token_keys: SecretStr | None = None  # "kid:base64key,..." (first one encrypts)

    # --- HTTP and retry ---
    http_timeout_seconds: float = Field(default=30.0, gt=0)
    max_retries: int = Field(default=5, ge=0, le=20)
    backoff_base_seconds: float = Field(default=1.0, gt=0)
    backoff_cap_seconds: float = Field(default=60.0, gt=0)
    max_inline_wait_seconds: float = Field(default=5.0, ge=0)
    quota_wait_log_seconds: float = Field(default=2.0, ge=0)
    backfill_share: float = Field(default=0.5, gt=0, le=1)
    # shared pause of a seller's LWA refreshes after a failure, doubling up to the max
    lwa_cooldown_seconds: float = Field(default=1.0, gt=0)
    lwa_cooldown_max_seconds: float = Field(default=30.0, gt=0)

    # --- streams: SPSYNC_<KIND>_<KNOB> (e.g. SPSYNC_ORDERS_LAG_SECONDS), by kind ---
    # (also as keyword arguments: Settings(orders_page_size=10)); unset knobs keep the
    # kind's declaration (worker/sync/registry.py), which also says which knobs it takes.
    streams: dict[str, StreamSettings] = Field(default_factory=dict)
    # Report types synced as streams into report_rows (see report_streams); read when the
    # registry is imported, checked here too so a bad value fails at start-up.
    report_streams: str = ""

    # --- reports ---
    report_poll_seconds: float = Field(default=5.0, gt=0)  # first getReport after createReport
    report_poll_max_seconds: float = Field(default=60.0, gt=0)  # pauses grow x1.5 up to this
    # A report still processing this long after it was asked for is given up: a new one is
    # asked for by the next run.
    report_wait_max_seconds: float = Field(default=3600.0, gt=0)
    # A stream run waits this long for Amazon to prepare its report, then lets its worker
    # process go and comes back at the next poll (or at REPORT_PROCESSING_FINISHED).
    report_hold_seconds: float = Field(default=30.0, ge=0)

    # --- scheduling ---
    dispatch_interval_seconds: float = Field(default=5.0, gt=0)
    # A dispatched (seller, stream) is not dispatched again for this long unless its sync
    # finishes first; it is how a sync whose worker died gets picked up again.
    dispatch_claim_seconds: float = Field(default=300.0, gt=0)
    worker_concurrency: int = Field(default=4, ge=1)

    # --- observability ---
    metrics_port: int | None = Field(default=None, ge=1, le=65535)  # worker serves /metrics

    # --- notifications (celery -A worker notifications consume) ---
    sqs_queue_url: str | None = None  # the SQS queue subscribed as the SP-API destination
    sqs_endpoint_url: str | None = None  # another SQS endpoint (e.g. moto); unset: AWS

    # --- web app (seller onboarding, /healthz, /metrics) ---
    web_base_url: AnyHttpUrl | None = None  # public URL; OAuth redirect = <this>/oauth/callback
    web_consent_beta: bool = False  # send version=beta on the consent URL (draft applications)
    # Onboarding links (``sellers invite`` / ``sellers reauth``) live this long by default.
    web_invitation_hours: float = Field(default=72.0, ge=1 / 60, le=720)
    # Before storing a seller, ask Amazon whether the consenting account is the seller the
    # callback names (searchListingsItems with its id; needs the Product Listing role).
    web_verify_seller: bool = True
    # Per client address, shared by every web replica (Redis): /oauth/* and the SNS endpoint.
    web_oauth_per_minute: float = Field(default=30.0, gt=0)
    web_sns_per_minute: float = Field(default=1200.0, gt=0)
    # A client has this long to send a request's head (and an idle connection is closed after
    # it); a body has this long to arrive.
    web_read_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    # POST /notifications/sns trusts SigningCertURL / SubscribeURL hosts matching this (whole
    # host); both knobs exist for tests and development, production keeps the defaults.
    sns_cert_host_pattern: str = r"^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$"
    sns_allow_http_cert: bool = False  # also accept http:// certificate and SubscribeURLs
    # The signing certificate must chain to a CA in this PEM bundle (unset: certifi's Mozilla
    # bundle); its issuer may be fetched from its AIA URL on a host matching the pattern.
    sns_ca_bundle: str | None = None
    sns_issuer_host_pattern: str = r"^crt\.[a-z0-9-]+\.amazontrust\.com$"
    # Only these SNS topics may subscribe and deliver (a genuine SNS signature proves AWS sent
    # it, not that it is *your* topic). Empty: the endpoint refuses every message.
    sns_topic_arns: Annotated[tuple[str, ...], NoDecode] = ()

    # --- logging ---
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @model_validator(mode="before")
    @classmethod
    def _gather_stream_knobs(cls, data: Any) -> Any:
        """``orders_page_size=10`` (an argument or a variable) -> ``streams["orders"]``."""
        if not isinstance(data, dict):
            return data
        streams: dict[str, dict[str, Any]] = {}
        for kind, knobs in (data.get("streams") or {}).items():
            streams[kind] = (knobs.model_dump(exclude_none=True)
                             if isinstance(knobs, BaseModel) else dict(knobs))
        rest = {}
        for name, value in data.items():
            found = _KNOB_NAME.fullmatch(name) if isinstance(name, str) else None
            if found and name not in cls.model_fields:
                streams.setdefault(found[1], {})[found[2]] = value
            else:
                rest[name] = value
        return {**rest, "streams": streams}

    def stream(self, kind: str) -> StreamSettings:
        """What the deployment set for one stream kind (``kind``: its name, ``-`` as ``_``)."""
        return self.streams.get(kind, _NO_KNOBS)

    @field_validator("report_streams")
    @classmethod
    def _check_report_streams(cls, value: str) -> str:
        report_streams(value)
        return value

    @field_validator("regions", mode="before")
    @classmethod
    def _split_regions(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        return tuple(str(v).upper() for v in value) if isinstance(value, list | tuple) else value

    @field_validator("sns_topic_arns", mode="before")
    @classmethod
    def _split_arns(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("regions")
    @classmethod
    def _known_regions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(value) - set(REGIONS))
        if not value:
            raise ValueError("name at least one of NA, EU, FE")
        if unknown:
            raise ValueError(f"unknown region {', '.join(unknown)} (expected some of NA, EU, FE)")
        return value

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("postgresql://", "postgresql+psycopg://")):
            raise ValueError("must start with postgresql:// (e.g. postgresql://user@host:5432/db)")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value is not None and is_cluster(value):
            parse_cluster_url(value)  # ValueError naming what is wrong (never the password)
        elif value is not None and not value.startswith(_REDIS_SCHEMES):
            raise ValueError("must start with redis://, rediss://, unix:// or, for a Redis "
                             "Cluster, redis+cluster://host:port,host:port")
        return value

    @field_validator("broker_url")
    @classmethod
    def _broker_url(cls, value: str | None) -> str | None:
        if value is not None and is_cluster(value):
            raise ValueError(CLUSTER_BROKER)
        if value is not None and not value.startswith((*_REDIS_SCHEMES, "amqp://", "amqps://")):
            raise ValueError("must start with redis://, rediss://, unix:// (Redis) or amqp://, "
                             "amqps:// (RabbitMQ)")
        return value

    def require_lwa(self) -> None:
        """Raise :class:`ConfigError` unless LWA app credentials are set (all but the demo)."""
        secret = self.lwa_client_secret.get_secret_value() if self.lwa_client_secret else ""
        if not self.lwa_client_id or not secret:
            raise ConfigError(
                "SPSYNC_LWA_CLIENT_ID and SPSYNC_LWA_CLIENT_SECRET must be set "
                "(your SP-API application's LWA credentials)"
            )


def load_settings() -> Settings:
    """Build settings from the environment, turning validation errors into one clear line."""
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = [str(part) for part in first["loc"]]
        if loc[:1] == ["streams"] and len(loc) >= 3:  # streams.<kind>.<knob>
            loc = [f"{loc[1]}_{loc[2]}"]
        field = loc[0] if loc else "settings"
        env = field if field.isupper() else f"SPSYNC_{field.upper()}"
        message = str(first["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"invalid {env}: {message}") from None


@cache
def get_settings() -> Settings:
    """The process-wide settings, loaded once."""
    return load_settings()
