"""``celery -A worker`` web: seller onboarding, /healthz, /metrics."""

from __future__ import annotations

import click

from worker.cli.common import operator_command
from worker.config import load_settings


@click.command(help="Serve seller onboarding (/oauth/start?region=na|eu|fe, /oauth/callback), "
               "/healthz and /metrics.\n\n"
               "The OAuth redirect URI is SPSYNC_WEB_BASE_URL (default: http://HOST:PORT) + "
               "/oauth/callback; register it with your SP-API application, whose id is "
               "SPSYNC_LWA_APP_ID. --spapi-url sends consent, LWA and SP-API to a running "
               "simulator instead (its own LWA application: eval \"$(celery -A worker "
               "simulator-env)\").\n\n"
               "Example: celery -A worker web --port 8080 --spapi-url http://127.0.0.1:8700")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@click.option("--spapi-url", default=None,
              help="A running simulator (celery -A worker simulator) standing in for Amazon.")
@operator_command
def web(host: str, port: int, spapi_url: str | None) -> None:
    from worker.logging import configure_logging
    from worker.web.app import run
    from worker.web.setup import web_deps

    settings = load_settings()
    configure_logging(settings)
    local = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104 - a comparison
    public = str(settings.web_base_url or f"http://{local}:{port}").rstrip("/")
    if spapi_url:
        _check_answers(spapi_url)
    run(web_deps(settings, public_url=public, spapi_url=spapi_url), host, port)


def _check_answers(url: str) -> None:
    """A stand-in that is down fails here, in one line, rather than at the first consent.
    Any HTTP answer will do: what it says to ``GET /`` is not ours to judge."""
    from urllib.error import HTTPError, URLError
    from urllib.parse import urlsplit
    from urllib.request import urlopen

    try:
        if urlsplit(url).scheme not in ("http", "https"):
            raise ValueError("not an http(s) URL")
        with urlopen(url, timeout=5):  # noqa: S310 - the operator's own http(s) URL
            pass
    except HTTPError:
        return
    except (URLError, OSError, ValueError) as exc:
        raise click.ClickException(f"no simulator answers at {url} ({exc})") from None
