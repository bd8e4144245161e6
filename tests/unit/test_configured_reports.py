"""``SPSYNC_REPORT_STREAMS``: report types a deployment syncs as streams into report_rows."""

from __future__ import annotations

from datetime import timedelta

import pytest

from worker.config import ConfigError, ConfiguredReport, Settings, report_streams
from worker.sync import registry


def test_entries_take_defaults_and_explicit_interval_and_lookback():
    assert report_streams(" GET_A_DATA , GET_B_DATA:6:90,GET_C_DATA::2 ,") == (
        ConfiguredReport("GET_A_DATA", timedelta(hours=24), timedelta(days=30)),
        ConfiguredReport("GET_B_DATA", timedelta(hours=6), timedelta(days=90)),
        ConfiguredReport("GET_C_DATA", timedelta(hours=24), timedelta(days=2)))
    assert report_streams("") == ()


@pytest.mark.parametrize(("value", "needle"), [
    ("orders", "expected TYPE"), ("GET_A:1:2:3", "expected TYPE"),
    ("get_lower_case", "expected TYPE"), ("GET_A:x", "are numbers"),
    ("GET_A:0", "between 1 minute"), ("GET_A:24:9999", "at most 730 days"),
    ("GET_A,GET_A:2", "twice"), ("GET_A'; DROP TABLE x;--", "expected TYPE"),
])
def test_bad_entries_are_refused_in_one_line(value, needle):
    with pytest.raises(ConfigError, match=needle):
        report_streams(value)
    with pytest.raises(ConfigError, match=needle):  # and at start-up
        Settings(report_streams=value)


def test_a_configured_type_is_a_report_kind_per_marketplace():
    kind = registry.configured(ConfiguredReport("GET_FBA_STORAGE_FEE_CHARGES_DATA",
                                                timedelta(hours=12), timedelta(days=60)))
    assert kind.name == "report-fba-storage-fee-charges-data"
    assert (kind.table, kind.per_marketplace, kind.synced) == ("report_rows", True, True)
    assert kind.report is not None and kind.report.report_type.startswith("GET_FBA_STORAGE")
    assert kind.tuning is not None
    assert (kind.tuning.interval, kind.tuning.overlap) == (timedelta(hours=12),
                                                           timedelta(days=60))
    assert kind.operation(None) == "createReport"
    assert kind.streams(["A", "B"]) == [f"{kind.name}:A", f"{kind.name}:B"]
