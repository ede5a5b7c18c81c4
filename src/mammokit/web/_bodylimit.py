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


def _authenticated(ctx, request: Request) -> bool:
    from ._context import session_from_cookie, user_from_bearer

    with ctx.factory() as db:
        return user_from_bearer(db, request) is not None or session_from_cookie(ctx, db, request) is not None


class BodyGuard:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] in _BODYLESS:
            return await self.app(scope, receive, send)
        ctx = scope["app"].state.ctx
        request = Request(scope)  # headers and cookies only: the body is not touched here
        path = scope["path"]
        if path not in _PUBLIC_POSTS and not await anyio.to_thread.run_sync(_authenticated, ctx, request):
            resp = (JSONResponse({"detail": "login or an API token (Authorization: Bearer ...) required"},
                                 status_code=401, headers={"WWW-Authenticate": "Bearer"})
                    if path.startswith("/api/") else RedirectResponse("/login", status_code=303))
            resp.headers["Connection"] = "close"
            return await resp(scope, receive, send)
        limit = body_limit(path, ctx.settings.max_upload_bytes)
        received = 0
        started = False

        async def counted_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def watched_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except BodyTooLarge as exc:  # read outside FastAPI's body parsing (no handler turned it into a 413)
            if started:
                raise
            resp = JSONResponse({"detail": exc.detail}, status_code=413, headers=exc.headers)
            await resp(scope, receive, send)
