"""Thin Celery tasks: parse arguments, call ``worker.*``; running, log context, failure
metrics and retries come from the base task (``tasks/base.py``). No business logic."""
