"""Who refreshes the statistics after a long report ingest (worker/sync/reports.py
``autovacuumed``): the ingest only where autovacuum will not."""

from __future__ import annotations

import pytest

from worker.sync.reports import autovacuumed


@pytest.mark.parametrize(("server", "counts", "options", "expected"), [
    ("on", "on", None, True),  # Postgres's defaults: autovacuum will
    ("on", "on", ["fillfactor=90"], True),
    ("on", "on", ["autovacuum_enabled=true"], True),
    ("off", "on", None, False),  # the server's autovacuum is off
    ("on", "off", None, False),  # no counts: autovacuum never sees the table grow
    ("on", "on", ["autovacuum_enabled=false"], False),  # off for this table
    ("on", "on", ["fillfactor=90", "autovacuum_enabled=OFF"], False),
    ("on", "on", ["autovacuum_enabled=0"], False),
    ("on", "on", ["autovacuum_enabled=no"], False),
])
def test_the_ingest_analyzes_only_where_autovacuum_will_not(server, counts, options, expected):
    assert autovacuumed(server, counts, options) is expected
