"""``celery -A worker`` rotate-key: re-encrypt refresh tokens with the newest key."""

from __future__ import annotations

import click

from worker.cli.common import cli_runtime, operator_command


@click.command("rotate-key", help="Re-encrypt every stored refresh token with the first key "
               "of SPSYNC_TOKEN_KEYS. Run it after every process (workers, beat, web) lists the "
               "new key first and still lists the old ones; drop an old key only once this "
               "reports nothing left under it. Interrupt it any time: it commits each batch, and "
               "running it again continues.\n\n"
               "Example: SPSYNC_TOKEN_KEYS=k2:NEWKEY,k1:OLDKEY celery -A worker rotate-key")
@click.option("--batch", default=100, show_default=True, type=click.IntRange(1, 10_000),
              help="Sellers per transaction.")
@click.option("--wait", default=30.0, show_default=True, type=click.FloatRange(0, 3600),
              help="Seconds to wait for a seller row another transaction holds (a reauth) "
              "before reporting it as left.")
@operator_command
def rotate_key(batch: int, wait: float) -> None:
    from worker.db.key_rotation import Rotation, pending, rotate

    rt = cli_runtime()
    keyring = rt.keyring
    todo = pending(rt.engine, keyring.primary)
    click.echo(f"{todo} token(s) to re-encrypt with key {keyring.primary}")

    def show(r: Rotation) -> None:
        click.echo(f"  {r.rotated}/{todo} re-encrypted")

    try:
        result = rotate(rt.engine, keyring, batch=batch, progress=show, wait=wait)
    except KeyboardInterrupt:
        raise click.ClickException("interrupted: what was re-encrypted is kept; run the same "
                                   "command again to finish") from None
    click.echo(f"done: {result.rotated} re-encrypted, {result.already_current} already under "
               f"{keyring.primary}, {result.left} left")
    if result.unreadable:
        raise click.ClickException(
            f"{len(result.unreadable)} seller(s) have a token under a key that is not in "
            f"SPSYNC_TOKEN_KEYS: {', '.join(result.unreadable[:10])}; add that key back, or "
            "re-authorize them (sellers reauth)")


