"""The base of every spsync task: what each one would otherwise repeat.

A task body is a plain function (or coroutine function) of ids; :func:`spsync_task`
registers it and :class:`SpsyncTask` runs it:

- **runs** the body; a coroutine function under one ``asyncio.run``;
- **binds the log context** for the task's duration: ``task`` and the body's named
  arguments (``seller_id``, ``stream``, ``inbox_id``: ids only), restored afterwards;
- **counts** a task that raised in ``spsync_task_failures_total`` (a retry is not a failure);
- **retries declaratively**, as declared in the decorator, so bodies hold no retry code:
  ``retry_on`` (exception classes) come back after ``backoff``'s delay, up to its
  ``max_retries``; ``retry_exclude`` are never retried even when ``retry_on`` covers them;
  ``defer_on`` (retriable errors carrying their wait, e.g. ``QuotaWaitTooLong``) come back
  after that wait and do not use up a retry.

Every task is named, acknowledged late and keeps no result.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any

import structlog
from celery import Task

from worker.app import app
from worker.metrics import TASK_FAILURES
from worker.ratelimit.backoff import Backoff
from worker.spapi.errors import RetriableError

Errors = tuple[type[BaseException], ...]


class SpsyncTask(Task):  # type: ignore[misc]  # celery ships no type hints
    """Runs one body with the behaviour its :func:`spsync_task` declaration asks for."""

    retry_on: Errors = ()
    retry_exclude: Errors = ()
    defer_on: tuple[type[RetriableError], ...] = ()
    backoff: Backoff | None = None

    def execute(self, body: Callable[..., Any], args: tuple[Any, ...],
                kwargs: Mapping[str, Any]) -> Any:
        with structlog.contextvars.bound_contextvars(task=self.name,
                                                     **_named(body, args, kwargs)):
            try:
                result = body(*args, **kwargs)
                return asyncio.run(result) if inspect.iscoroutine(result) else result
            except self.retry_exclude:
                raise
            except self.defer_on as exc:  # waiting is not failing: no retry used up
                raise self.retry(countdown=exc.retry_after, max_retries=None) from None
            except self.retry_on as exc:
                backoff = self.backoff or Backoff()
                raise self.retry(exc=exc, countdown=backoff.delay(self.request.retries)) \
                    from None

    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: Any,
                   einfo: Any) -> None:
        TASK_FAILURES.labels(self.name).inc()


def spsync_task(
    name: str, *, retry_on: Errors = (), retry_exclude: Errors = (),
    defer_on: tuple[type[RetriableError], ...] = (), backoff: Backoff | None = None,
    **options: Any,
) -> Callable[[Callable[..., Any]], Any]:
    """Register ``body`` as the task ``name`` (see the module docstring); ``options`` go to
    Celery (e.g. ``max_retries``, which defaults to ``backoff.max_retries``)."""

    def register(body: Callable[..., Any]) -> Any:
        @functools.wraps(body)
        def run(self: SpsyncTask, *args: Any, **kwargs: Any) -> Any:
            return self.execute(body, args, kwargs)

        # Celery checks a call's arguments against this (it does not follow __wrapped__)
        params = list(inspect.signature(body).parameters.values())
        run.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY), *params])
        if backoff is not None:
            options.setdefault("max_retries", backoff.max_retries)
        return app.task(name=name, base=SpsyncTask, bind=True, acks_late=True,
                        ignore_result=True, retry_on=retry_on, retry_exclude=retry_exclude,
                        defer_on=defer_on, backoff=backoff, **options)(run)

    return register


def _named(body: Callable[..., Any], args: tuple[Any, ...],
           kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The body's named arguments as passed (``**kwargs`` catch-alls left out)."""
    try:
        bound = inspect.signature(body).bind_partial(*args, **kwargs)
    except TypeError:
        return {}  # the call itself will say what is wrong
    kinds = {p.name: p.kind for p in inspect.signature(body).parameters.values()}
    return {k: v for k, v in bound.arguments.items()
            if kinds[k] is not inspect.Parameter.VAR_KEYWORD
            and kinds[k] is not inspect.Parameter.VAR_POSITIONAL}
