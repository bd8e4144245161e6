"""What every command shares: one-line errors, the runtime."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any, TypeVar

import click
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DataError as DbDataError
from sqlalchemy.exc import IntegrityError as DbIntegrityError
from sqlalchemy.exc import InterfaceError as DbInterfaceError
from sqlalchemy.exc import OperationalError as DbOperationalError

from worker.config import ConfigError, load_settings
from worker.db.sellers import UnknownSellerError
from worker.spapi.errors import SpApiError
from worker.spapi.regions import UnknownRegionError

F = TypeVar("F", bound=Callable[..., Any])


@contextmanager
def one_line_errors() -> Iterator[None]:
    """Every error an operator can cause or meet becomes one line (``Error: ...``, exit 1)."""
    try:
        yield
    except UnicodeError:  # before ValueError: its args[0] is just the codec's name
        raise click.ClickException("arguments and stdin must be UTF-8 text; one holds a byte "
                                   "sequence that is not") from None
    except (ConfigError, UnknownSellerError, UnknownRegionError, ValueError) as exc:
        raise click.ClickException(str(exc.args[0]) if exc.args else str(exc)) from None
    except (RedisConnectionError, RedisTimeoutError) as exc:
        raise click.ClickException(f"Redis unreachable: {exc}") from None
    except RedisError as exc:  # e.g. "DB index is out of range": the server's own words
        raise click.ClickException(f"Redis refused: {exc}") from None
    except (DbOperationalError, DbInterfaceError) as exc:  # down, refusing, or gone mid-way
        raise click.ClickException(f"Postgres unreachable or failing: {_first(exc)}") from None
    except (DbDataError, DbIntegrityError) as exc:  # e.g. an id past bigint, a refused row
        raise click.ClickException(f"Postgres refused it: {_first(exc)}") from None
    except SpApiError as exc:  # its message names seller, operation and status, never a token
        raise click.ClickException(f"Amazon refused: {exc}") from None
    except OSError as exc:  # e.g. a port already in use
        raise click.ClickException(str(exc)) from None


def _first(exc: Any) -> str:
    """psycopg's first line: it names the problem, no password and no value (those are in
    SQLAlchemy's parameters and psycopg's DETAIL line, both left out)."""
    first = str(exc.orig or exc).strip().splitlines()
    return first[0] if first else type(exc).__name__


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


