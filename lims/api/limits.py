"""The size limit on request bodies: larger ones are refused with 413 before anything reads
them, whether the client declares the length or streams the body in chunks without one."""

from __future__ import annotations

from collections.abc import Callable

from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from workflows.errors import ErrorCode

Refusal = Callable[[Scope, int], Response]


def too_large_detail(limit: int) -> str:
    return (f"the request is larger than the {limit:,} bytes this server accepts; nothing "
            "was read or recorded: send less (no form or scan of the lab is that large)")


def api_refusal(_scope: Scope, limit: int) -> Response:
    """The API's `{code, detail}` body."""
    return JSONResponse({"code": ErrorCode.REQUEST_TOO_LARGE.value,
                         "detail": too_large_detail(limit)}, status_code=413)


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class BodyLimit:
    """Pure ASGI. A declared Content-Length over the limit is refused at once (the server
    reads no more than it declares); a body sent without one (chunked) is read here, up to
    the limit, and replayed to the application, so no route ever reads more."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, refusal: Refusal = api_refusal,
                 applies_to: Callable[[str], bool] = lambda _path: True) -> None:
        self.app, self.max_bytes = app, max_bytes
        self.refusal, self.applies_to = refusal, applies_to

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.applies_to(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        declared = _declared_length(scope)
        if declared is not None and declared <= self.max_bytes:
            await self.app(scope, receive, send)
            return
        if declared is not None:
            await self.refusal(scope, self.max_bytes)(scope, receive, send)
            return
        messages = await self._read_within_limit(receive)
        if messages is None:
            await self.refusal(scope, self.max_bytes)(scope, receive, send)
            return
        await self.app(scope, replay(messages, receive), send)

    async def _read_within_limit(self, receive: Receive) -> list[Message] | None:
        """The body's messages, or None as soon as they pass the limit."""
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                return messages  # the client went away: the application will see it
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                return None
            if not message.get("more_body", False):
                return messages


def replay(messages: list[Message], receive: Receive) -> Receive:
    """`receive` that first gives back `messages`, already read."""
    pending = list(messages)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed
