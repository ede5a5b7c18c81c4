"""Error responses a person can read: a page for browser paths, a short JSON `detail` for /api, never the
framework's raw validation JSON (which echoes the submitted values, e.g. a 5,000-character file name).
The full detail goes to the server log (`mammokit.web`)."""
from __future__ import annotations

import errno
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ._privacy import public_reason

log = logging.getLogger("mammokit.web")

_TITLES = {400: "Bad request", 401: "Login required", 403: "Forbidden", 404: "Not found",
           405: "Not allowed", 413: "Too large", 415: "Unsupported file", 422: "Form not accepted",
           429: "Too many requests", 503: "Unavailable", 507: "Storage full"}


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def error_response(request: Request, status: int, message: str, headers: dict | None = None):
    """The one-line `message` as JSON for the API or as the error page for a browser."""
    if wants_json(request):
        return JSONResponse({"detail": message}, status_code=status, headers=headers)
    ctx = request.app.state.ctx
    resp = ctx.render(request, "error.html", status_code=status, title=_TITLES.get(status, "Error"),
                      message=message)
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def _validation_message(exc: RequestValidationError) -> str:
    fields = sorted({str(e.get("loc", ["", "?"])[-1]) for e in exc.errors()})
    shown = ", ".join(f[:40] for f in fields[:5])
    return f"The form was incomplete or malformed (field: {shown}). Reload the page and try again."


_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
DISK_FULL_MESSAGE = "The server's disk is full, so the upload was not stored. Tell the administrator."


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(OSError)
    async def _os_error(request: Request, exc: OSError):
        if exc.errno in _DISK_FULL:
            log.error("disk full on %s: %s", request.url.path, exc)
            return error_response(request, 507, DISK_FULL_MESSAGE)
        raise exc

    @app.exception_handler(OperationalError)
    async def _db_error(request: Request, exc: OperationalError):
        if "full" in str(exc.orig).lower():  # SQLite: database or disk is full; PostgreSQL: could not extend
            log.error("database disk full on %s: %s", request.url.path, exc.orig)
            return error_response(request, 507, DISK_FULL_MESSAGE)
        raise exc

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        log.info("request validation failed on %s: %s", request.url.path,
                 [(e.get("loc"), e.get("type")) for e in exc.errors()][:10])  # locations only, not values
        return error_response(request, 422, _validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        detail = exc.detail if isinstance(exc.detail, str) else ""
        message = public_reason(detail) if detail else _TITLES.get(exc.status_code, "Error")
        if exc.status_code == 400 and "multipart" in detail.lower():
            message = "The upload could not be read as a form (malformed multipart data)."
        return error_response(request, exc.status_code, message, getattr(exc, "headers", None))
