"""An ASGI guard in front of the multipart parser, for every request that carries a body.

1. Authentication first: a request with a body to anything but /login needs a valid session cookie or API
   token before one byte of the body is read; otherwise it gets 401 (API) or a redirect to /login, with
   `Connection: close`. An anonymous client cannot make the server spool anything.
2. A byte limit while streaming, whatever the transfer encoding (Content-Length or chunked): the body is
   counted as it arrives and the request is refused with 413 at limit + 1 byte. The limit is one upload
   plus form overhead for /upload and /api/predictions, one per exam view for /exams and /api/exams, and
   64 KiB elsewhere (the login form).
3. Temporary files: Starlette spools uploads to anonymous (already unlinked) temporary files; an aborted
   body raises inside the parser, the request's files are closed with it, and nothing stays on disk.
"""
from __future__ import annotations

import anyio
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.exceptions import HTTPException
from starlette.requests import Request

from ._auth import request_user
from ._errors import error_response
from ._limits import UPLOAD_PATHS, Busy, UploadLimits

FORM_OVERHEAD = 64 * 1024  # multipart framing and the small form fields around the file(s)
SMALL_BODY = 64 * 1024
EXAM_FILES = 4  # rcc, rmlo, lcc, lmlo
_PUBLIC_POSTS = ("/login",)
_BODYLESS = ("GET", "HEAD", "OPTIONS")


class BodyTooLarge(HTTPException):
    """Raised from `receive` inside the parser; an HTTPException so that FastAPI passes it on as a 413."""

    def __init__(self, limit: int):
        super().__init__(413, f"the request body is over the limit of {limit / 1e6:.1f} MB",
                         headers={"Connection": "close"})


def body_limit(path: str, max_upload_bytes: int) -> int:
    if path in ("/upload", "/api/predictions"):
        return max_upload_bytes + FORM_OVERHEAD
    if path in ("/exams", "/api/exams"):
        return EXAM_FILES * max_upload_bytes + FORM_OVERHEAD
    return SMALL_BODY


def _user_id(ctx, request: Request) -> int | None:
    """The id of the user a request's session cookie or API token belongs to; None when neither is valid."""
    with ctx.factory() as db:
        user = request_user(ctx.session_signer, ctx.settings, db, request)
        return None if user is None else user.id


def _limits(app, settings) -> UploadLimits:
    limits = getattr(app.state, "upload_limits", None)
    if limits is None:
        limits = app.state.upload_limits = UploadLimits(settings)
    return limits


async def _discard_body(receive, limit: int) -> None:
    """Read the request body and drop it, up to ``limit`` + 1 bytes (then the connection closes anyway)."""
    seen = 0
    while seen <= limit:
        message = await receive()
        if message["type"] != "http.request":
            return
        seen += len(message.get("body", b""))
        if not message.get("more_body"):
            return


class BodyGuard:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] in _BODYLESS:
            return await self.app(scope, receive, send)
        ctx = scope["app"].state.ctx
        request = Request(scope)  # headers and cookies only: the body is not touched here
        path = scope["path"]
        user_id = None if path in _PUBLIC_POSTS else await anyio.to_thread.run_sync(_user_id, ctx, request)
        if user_id is None and path not in _PUBLIC_POSTS:
            resp = (JSONResponse({"detail": "login or an API token (Authorization: Bearer ...) required"},
                                 status_code=401, headers={"WWW-Authenticate": "Bearer"})
                    if path.startswith("/api/") else RedirectResponse("/login", status_code=303))
            resp.headers["Connection"] = "close"
            return await resp(scope, receive, send)
        limits = _limits(scope["app"], ctx.settings) if path in UPLOAD_PATHS else None
        limit = body_limit(path, ctx.settings.max_upload_bytes)
        if limits is not None:
            try:
                limits.admit(user_id)  # per-user uploads at once and per minute: 429 before any analysis
            except Busy as exc:
                # A logged-in client's body (at most `limit` bytes) is read and dropped, never stored: answering
                # while it is still sending makes the closing socket reset, and the client sees an error
                # instead of the 429 and its Retry-After.
                await _discard_body(receive, limit)
                resp = error_response(request, exc.status_code, exc.detail, {**exc.headers, "Connection": "close"})
                return await resp(scope, receive, send)
        received = 0
        started = False
        holding = False

        async def counted_receive():
            nonlocal received, holding
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
                if limits is not None and not message.get("more_body") and not holding:
                    await limits.acquire_slot()  # the body is in: now wait for a decode/analysis slot
                    holding = True
            return message

        released = False

        def release() -> None:
            nonlocal holding, released
            if holding:
                limits.release_slot()
                holding = False
            if limits is not None and not released:
                limits.release(user_id)
                released = True

        async def watched_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            if message["type"] == "http.response.body" and not message.get("more_body"):
                release()  # before the answer's last bytes: a client's next upload never finds this one in flight
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except BodyTooLarge as exc:  # read outside FastAPI's body parsing (no handler turned it into a 413)
            if started:
                raise
            resp = JSONResponse({"detail": exc.detail}, status_code=413, headers=exc.headers)
            await resp(scope, receive, send)
        finally:
            release()
