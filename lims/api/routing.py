"""Routes whose answer is checked on the thread that made it.

FastAPI runs a synchronous route on a worker thread, then checks the model it returned
(`response_model`) on a *second* worker thread, while the route's session still holds its
transaction: SQLite's write lock, a pooled PostgreSQL connection. With as many requests at
once as a worker has threads, the threads can all be held by requests waiting for that
lock, and the request holding it waits for a thread: nobody moves until the database's
timeout (tests/api/test_request_threads.py). `OneThreadRoute` runs such a route and the
check of its answer in one thread; FastAPI's own check then finds the model already made
(pydantic does not validate an instance again) and runs in the event loop, no thread hop.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Response
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

PREFIX = "/api/v1"  # every API route's router is made with it (its paths are whole)


class _Answer:
    """The route's answer model (FastAPI's `response_field`), known once the route is made."""

    field: Any = None

    def checked(self, result: Any) -> Any:
        if self.field is None or isinstance(result, Response):
            return result
        value, errors = self.field.validate(result, {}, loc=("response",))
        # A wrong answer is left to FastAPI, which reports it as it always does.
        return result if errors else value


def _answered_in_one_thread(endpoint: Callable[..., Any],
                            answer: _Answer) -> Callable[..., Any]:
    def run(values: dict[str, Any]) -> Any:
        return answer.checked(endpoint(**values))

    # wraps: FastAPI reads the parameters, their annotations' module and the answer's type
    # from the route itself (__wrapped__), and sees a coroutine function.
    @functools.wraps(endpoint)
    async def in_one_thread(**values: Any) -> Any:
        return await run_in_threadpool(run, values)

    return in_one_thread


def _synchronous(endpoint: Callable[..., Any]) -> bool:
    """A plain function: not a coroutine, not a generator (FastAPI streams those)."""
    return (inspect.isfunction(endpoint) and not inspect.iscoroutinefunction(endpoint)
            and not inspect.isgeneratorfunction(endpoint)
            and not inspect.isasyncgenfunction(endpoint))


class OneThreadRoute(APIRoute):
    """An API route that runs a synchronous endpoint and checks its answer on one thread."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        answer = _Answer()
        if _synchronous(endpoint):
            endpoint = _answered_in_one_thread(endpoint, answer)
        super().__init__(path, endpoint, **kwargs)
        answer.field = self.response_field


def add_routes(target: APIRouter, *routers: APIRouter, in_schema: bool = True) -> None:
    """Serve the routes of `routers` from `target` itself, each as it is.

    FastAPI's include_router (0.137 and later) keeps an included router as a node that
    every request walks, rebuilding each candidate's context as it matches, and again when
    it is handled: with the API's and the pages' 220 routes under two levels of routers,
    finding a page's route took 0.5-0.9 ms twice a request, about 14% of a product page's
    CPU (py-spy). Routes in `target`'s own list are matched by their path's regular
    expression alone. Each route carries its whole path (its router was made with the
    prefix) and its route class; `target` adds nothing to them, so it may have none of
    its own to add. `in_schema=False` leaves the routes out of the OpenAPI document."""
    if target.prefix or target.dependencies or target.tags:
        raise ValueError("routes are added as they are: give their own routers the prefix, "
                         "dependencies and tags")
    for router in routers:
        for route in router.routes:
            if not isinstance(route, APIRoute):
                raise TypeError(f"{route!r} is not an API route: include its router instead")
            if not in_schema:
                route.include_in_schema = False
            target.routes.append(route)
