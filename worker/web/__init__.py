"""The web app (``celery -A worker web``): seller onboarding through Amazon's consent flow,
``/healthz`` and ``/metrics``. aiohttp; the plain functions behind each route live beside it
(``onboarding.py``, ``health.py``, ``scrape.py``) so tests call them without HTTP too.
"""
