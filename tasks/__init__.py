"""Thin Celery tasks: parse arguments, call ``worker.*``, let Celery retry. No business logic."""
