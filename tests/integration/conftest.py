"""Fixtures shared by the integration tests (the root conftest has the services)."""

from tests.integration.webkit import make_site  # noqa: F401 - a fixture
