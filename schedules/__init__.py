"""The beat schedule, as data (the dispatcher it fires is ``worker/sync/dispatch.py``)."""
