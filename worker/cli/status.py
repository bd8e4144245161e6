"""``celery -A worker`` status: per seller and stream, with quota fill and queue depth."""

from __future__ import annotations

import json

import click

from worker.cli.common import cli_runtime, operator_command


@click.command(help="Per seller and stream: last success, lag, rows, last error, and how "
               "full its quota bucket is (fill: share of the burst in use; over 100% means "
               "calls are queued for quota). Also the number of tasks waiting in the Celery "
               "queue (n/a when the broker cannot say; null in --json), and the notifications "
               "(pending, parked) and write-back commands (pending, sending, polling, "
               "unknown, failed) still open.\n\n"
               "Example: celery -A worker status --json")
@click.option("--json", "as_json", is_flag=True,
              help='One JSON object: {"queue_depth": N, "inbox": {status: N}, '
                   '"outbox": {status: N}, "streams": [...]}.')
@operator_command
def status(as_json: bool) -> None:
    from worker.app import app
    from worker.status import (
        add_bucket_fill,
        backlog,
        collect,
        queue_depth,
        redis_cluster_line,
        render,
    )

    rt = cli_runtime()
    with rt.engine.begin() as conn:
        rows = collect(conn)
        open_rows = backlog(conn)
    client = rt.redis()
    try:
        add_bucket_fill(client, rows)
        cluster = redis_cluster_line(client)
    finally:
        client.close()
    queue = str(app.conf.task_default_queue)
    depth = queue_depth(rt.broker_url, queue)
    if as_json:
        extra = {} if cluster is None else {"redis_cluster": cluster}
        click.echo(json.dumps({"queue_depth": depth, **extra, **open_rows, "streams": rows},
                              default=str))
    else:
        if cluster is not None:
            click.echo(f"Redis Cluster: {cluster}")
        click.echo(render(rows, depth, queue, open_rows))


