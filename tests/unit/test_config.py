from __future__ import annotations

import pytest

from worker.config import ConfigError, Settings, load_settings
from worker.sync import registry


def test_defaults_are_sensible(monkeypatch):
    for var in ("DATABASE_URL", "REDIS_URL", "SPSYNC_REGIONS"):
        monkeypatch.delenv(var, raising=False)
    s = load_settings()
    assert s.database_url is None and s.regions == ("NA", "EU", "FE")
    orders_lag_seconds = registry.ORDERS.tuned(s).lag.total_seconds()
    assert orders_lag_seconds == 120 and s.dispatch_interval_seconds == 5
    assert str(s.lwa_token_url) == "https://api.amazon.com/auth/o2/token"


@pytest.mark.parametrize(
    ("var", "value", "needle"),
    [
        ("SPSYNC_REGIONS", "NA,XX", "invalid SPSYNC_REGIONS: unknown region XX"),
        ("DATABASE_URL", "mysql://db", "invalid DATABASE_URL"),
        ("REDIS_URL", "http://r", "invalid REDIS_URL"),
        ("REDIS_URL", "amqp://rabbit//", "invalid REDIS_URL"),  # a broker's, not the buckets'
        ("SPSYNC_BROKER_URL", "kafka://k:9092", "invalid SPSYNC_BROKER_URL"),
        ("SPSYNC_LWA_TOKEN_URL", "not a url", "invalid SPSYNC_LWA_TOKEN_URL"),
        ("SPSYNC_ORDERS_PAGE_SIZE", "500", "invalid SPSYNC_ORDERS_PAGE_SIZE"),
    ],
)
def test_bad_values_give_one_clear_line(monkeypatch, var, value, needle):
    monkeypatch.setenv(var, value)
    with pytest.raises(ConfigError) as exc:
        load_settings()
    assert needle in str(exc.value)
    assert "\n" not in str(exc.value)


def test_the_broker_may_be_redis_or_rabbitmq(monkeypatch):
    for url in ("redis://r:6379/1", "amqp://u:p@rabbit:5672/spsync", "amqps://rabbit//"):
        monkeypatch.setenv("SPSYNC_BROKER_URL", url)
        assert load_settings().broker_url == url


def test_regions_accept_a_comma_list_in_any_case(monkeypatch):
    monkeypatch.setenv("SPSYNC_REGIONS", "na, fe")
    assert load_settings().regions == ("NA", "FE")


def test_lwa_credentials_required_outside_the_demo():
    with pytest.raises(ConfigError, match="SPSYNC_LWA_CLIENT_ID"):
        Settings(lwa_client_id=None).require_lwa()
    Settings(lwa_client_id="amzn1.application-oa2-client.x", lwa_client_secret="s").require_lwa()


def test_secret_never_shows_in_repr():
    s = Settings(lwa_client_id="id", lwa_client_secret="amzn1.oa2-cs.v1.topsecret")
    assert "topsecret" not in repr(s)


def test_env_example_names_every_setting_and_nothing_else():
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / ".env.example").read_text()
    named = set(re.findall(r"\b(SPSYNC_[A-Z0-9_]+|DATABASE_URL|REDIS_URL)\b", doc))
    settings = {f.validation_alias if isinstance(f.validation_alias, str)
                else "SPSYNC_" + name.upper() for name, f in Settings.model_fields.items()
                if name != "streams"} | registry.setting_names()  # SPSYNC_<KIND>_<KNOB>
    assert named == settings
