"""Building the web app's dependencies from settings (for a trial, aimed at a stand-in for
Amazon such as the simulator)."""

from __future__ import annotations

from pydantic import AnyHttpUrl

from worker.config import ConfigError, Settings
from worker.runtime import Runtime
from worker.web.app import Web, WebConfig
from worker.web.sns_certs import trust_of


def web_deps(settings: Settings, *, public_url: str, spapi_url: str | None = None) -> Web:
    """``spapi_url``: send consent, LWA and SP-API to this stand-in instead of Amazon. The LWA
    application comes from the settings either way (for the simulator's own, see
    ``celery -A worker simulator-env``)."""
    consent_base = None
    if spapi_url:
        base = spapi_url.rstrip("/")
        settings = settings.model_copy(update={
            "spapi_url": AnyHttpUrl(base), "lwa_token_url": AnyHttpUrl(base + "/auth/o2/token")})
        consent_base = base
    if not settings.lwa_app_id:
        raise ConfigError("SPSYNC_LWA_APP_ID must be set (your SP-API application id, "
                          "amzn1.sp.solution...)")
    settings.require_lwa()
    trust_of(settings)  # an unreadable SPSYNC_SNS_CA_BUNDLE stops start-up, not a message
    rt = Runtime(settings)
    return Web(rt, WebConfig(public_url=public_url, application_id=settings.lwa_app_id,
                             lwa=rt.lwa_app(), consent_base=consent_base,
                             beta=settings.web_consent_beta))
