"""Build the FastAPI application."""
from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from .. import constants
from ..birads import BiradsThresholds
from ._analysis import ModelService
from ._auth import CookieSigner
from ._bodylimit import BodyGuard, body_limit
from ._context import STATIC_DIR, TEMPLATES_DIR, AppContext
from ._db import init_db
from ._deps import CsrfRejected, LoginRequired
from ._errors import install_error_handlers
from ._settings import WebSettings
from ._store import FileStore
from ._sweep import sweep_orphans

_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
}


def create_app(settings: WebSettings | None = None, predictor: Any = None) -> FastAPI:
    """The web app. `predictor` (an object with `.predict`) overrides loading `settings.model_path`."""
    from ._api import public
    from ._api import router as api_router
    from ._pages import router as page_router

    settings = settings or WebSettings()
    thresholds = BiradsThresholds.from_mapping(settings.birads_thresholds)  # fail early on bad config
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    _engine, factory = init_db(settings.database_url)
    sweep_orphans(factory, settings.upload_dir, settings.derived_dir, settings.orphan_grace_s)  # after a crash
    secret = settings.resolve_secret()
    session_s = int(settings.session_hours * 3600)
    ctx = AppContext(
        settings=settings,
        factory=factory,
        secret=secret,
        session_signer=CookieSigner(secret, "mammokit-session", session_s),
        csrf_signer=CookieSigner(secret, "mammokit-login-csrf", 3600),
        templates=Jinja2Templates(directory=str(TEMPLATES_DIR)),
        store=FileStore(settings.upload_dir, settings.derived_dir),
        model=ModelService(settings.model_path, thresholds, predictor=predictor, prevalence=settings.prevalence),
    )
    app = FastAPI(
        title="mammokit",
        version="0.1.0",
        description="Mammogram classification for research. " + constants.RESEARCH_DISCLAIMER,
        docs_url=None, redoc_url=None, openapi_url=None,  # the schema is served behind login at /api/openapi.json
    )
    app.state.ctx = ctx
    app.state.engine = _engine
    install_error_handlers(app)
    app.add_middleware(BodyGuard)  # inside the headers middleware below: its answers get the headers too
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    app.include_router(public)
    app.include_router(page_router)
    app.include_router(api_router)

    @app.middleware("http")
    async def limits_and_headers(request: Request, call_next):
        length = request.headers.get("content-length")
        if request.method == "POST" and length and length.isdigit() and \
                int(length) > body_limit(request.url.path, settings.max_upload_bytes):
            msg = (f"upload is {int(length) / 1e6:.1f} MB, over the limit of "
                   f"{settings.max_upload_bytes / 1e6:.1f} MB")
            resp = (JSONResponse({"detail": msg}, status_code=413) if request.url.path.startswith("/api/")
                    else HTMLResponse(f"<p>{msg}</p><p><a href='/'>Back</a></p>", status_code=413))
            resp.headers["Connection"] = "close"
        else:
            resp = await call_next(request)
        for k, v in _SECURITY_HEADERS.items():
            resp.headers.setdefault(k, v)
        if not request.url.path.startswith("/static/"):  # results, API JSON and images stay out of caches
            resp.headers["Cache-Control"] = "no-store"
        if request.url.scheme == "https":
            resp.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return resp

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired):
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(CsrfRejected)
    async def _csrf_rejected(request: Request, exc: CsrfRejected):
        return ctx.render(request, "error.html", status_code=403, title="Form rejected",
                          message="This form was not sent with a valid CSRF token. Reload the page and try again.")

    return app
