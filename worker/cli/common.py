"""What every command shares: one-line errors, the runtime."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any, TypeVar

import click
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import InterfaceError as DbInterfaceError
from sqlalchemy.exc import OperationalError as DbOperationalError

from worker.config import ConfigError, load_settings
from worker.db.sellers import UnknownSellerError
from worker.spapi.errors import SpApiError
from worker.spapi.regions import UnknownRegionError

F = TypeVar("F", bound=Callable[..., Any])



@contextmanager
def one_line_errors() -> Iterator[None]:
    try:
        yield
    except (ConfigError, UnknownSellerError, UnknownRegionError, ValueError) as exc:
        raise click.ClickException(str(exc.args[0]) if exc.args else str(exc)) from None
    except (RedisConnectionError, RedisTimeoutError) as exc:
        raise click.ClickException(f"Redis unreachable: {exc}") from None
    except (DbOperationalError, DbInterfaceError) as exc:  # down, refusing, or gone mid-way
        first = str(exc.orig or exc).strip().splitlines()  # psycopg's line names no password
        raise click.ClickException("Postgres unreachable or failing: "
                                   f"{first[0] if first else type(exc).__name__}") from None
    except SpApiError as exc:  # its message names seller, operation and status, never a token
        raise click.ClickException(f"Amazon refused: {exc}") from None


def operator_command(fn: F) -> F:
    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with one_line_errors():
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def cli_runtime() -> Any:
    from worker.logging import configure_logging
    from worker.runtime import Runtime

    settings = load_settings()
    configure_logging(settings)
    return Runtime(settings)


