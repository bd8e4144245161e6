"""``celery -A worker`` notifications setup|list|remove|consume."""

from __future__ import annotations

import click

from worker.cli.common import cli_runtime, operator_command


@click.group(help="SP-API notifications: subscribe sellers to an SQS destination, and consume "
             "the queue into the inbox.\n\nExample: celery -A worker notifications consume")
def notifications() -> None:
    pass


@notifications.command("consume", help="Long-poll the SQS queue and put every notification "
                       "into notifications_inbox (deduplicated, schema-checked), deleting each "
                       "message only after its row is committed; workers then refresh exactly "
                       "what changed. Runs until SIGTERM/SIGINT; run one or several.\n\n"
                       "Example: celery -A worker notifications consume --queue-url "
                       "https://sqs.us-east-1.amazonaws.com/123456789012/spsync")
@click.option("--queue-url", default=None, help="Default: SPSYNC_SQS_QUEUE_URL.")
@click.option("--sqs-endpoint-url", default=None,
              help="Another SQS endpoint (e.g. moto). Default: SPSYNC_SQS_ENDPOINT_URL or AWS.")
@click.option("--wait", "wait_seconds", default=20, show_default=True,
              type=click.IntRange(0, 20), help="Long-poll seconds (SQS allows at most 20).")
@operator_command
def notifications_consume(queue_url: str | None, sqs_endpoint_url: str | None,
                          wait_seconds: int) -> None:
    import signal
    import threading
    import time

    from worker.notifications.consumer import (
        ConsumerStats,
        SqsSource,
        enqueue_processing,
        run,
    )

    rt = cli_runtime()
    url = queue_url or rt.settings.sqs_queue_url
    if not url:
        raise click.UsageError("give --queue-url or set SPSYNC_SQS_QUEUE_URL")
    source = SqsSource(url, endpoint_url=sqs_endpoint_url or rt.settings.sqs_endpoint_url,
                       wait_seconds=wait_seconds)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    shown = [0.0]

    def progress(s: ConsumerStats) -> None:  # at most one line every 10 s
        if time.monotonic() - shown[0] >= 10:
            shown[0] = time.monotonic()
            click.echo(f"received {s.received}, new {s.recorded}, duplicates {s.duplicates}, "
                       f"parked {s.parked}, errors {s.errors}")

    click.echo(f"consuming {url}")
    stats = run(rt.engine, source, enqueue_processing, stop=stop, on_batch=progress)
    click.echo(f"stopped: received {stats.received}, new {stats.recorded}, duplicates "
               f"{stats.duplicates}, parked {stats.parked}, errors {stats.errors}")
