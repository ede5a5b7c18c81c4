"""Server-rendered pages: login, logout, upload, result, history, audit log (admins)."""
from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, RedirectResponse, Response
from sqlalchemy import delete, select

from ..birads import BIRADS_DESCRIPTIONS, PREVALENCE_SOURCE
from ..errors import MammokitError
from ._audit import audit, client_address
from ._auth import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    is_https,
    new_token,
    request_user,
    session_idle,
    session_lifetime,
    token_digest,
    tokens_equal,
    verify_password,
)
from ._context import AppContext, get_ctx
from ._db import AuditEvent, Exam, Prediction, User, WebSession, utcnow
from ._deps import DB, PageSession, check_csrf, current_session
from ._exams import BREAST_NAMES, LATERALITIES, analyse_exam, exam_files
from ._queries import find, newest
from ._store import DERIVED_KINDS
from ._throttle import begin_attempt, finish_attempt
from ._uploads import UploadRejected, analyse_file, requested_prevalence

router = APIRouter(include_in_schema=False)


def percent(x: float | None) -> str:
    """0.00594 -> '0.59%', 0.1612 -> '16.1%' (three significant figures)."""
    return "n/a" if x is None else f"{100 * x:.3g}%"


FormText = Annotated[str, Form()]


def _set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="lax",
                        secure=is_https(request), path="/")


def _login_page(request: Request, ctx: AppContext, status_code: int = 200, error: str | None = None,
                username: str = "") -> Response:
    token = new_token()
    resp = ctx.render(request, "login.html", status_code=status_code, error=error, username=username,
                      login_csrf=token)
    _set_cookie(request, resp, LOGIN_CSRF_COOKIE, ctx.csrf_signer.sign(token), 3600)
    return resp


@router.get("/login")
def login_form(request: Request, db: DB):
    ctx = get_ctx(request)
    if current_session(request, db) is not None:
        return RedirectResponse("/", status_code=303)
    return _login_page(request, ctx)


@router.post("/login")
def login(request: Request, db: DB, username: FormText = "", password: FormText = "",
          csrf_token: FormText = ""):
    ctx = get_ctx(request)
    s = ctx.settings
    expected = ctx.csrf_signer.unsign(request.cookies.get(LOGIN_CSRF_COOKIE))
    if not tokens_equal(expected, csrf_token):
        return _login_page(request, ctx, 403, "Your login form expired or was not sent by this site; try again.")
    username = username.strip()[:64]
    address = client_address(request)
    attempt, wait_s = begin_attempt(db, s, username, address)  # recorded before the check: atomic counting
    if attempt is None:
        audit(db, "login_throttled", request, username=username)
        db.commit()
        resp = _login_page(request, ctx, 429, f"Too many failed logins; try again in {wait_s} seconds.", username)
        resp.headers["Retry-After"] = str(wait_s)
        return resp
    user = db.scalar(select(User).where(User.name == username)) if username else None
    ok = verify_password(user.password_hash if user else None, password) and user is not None and user.active
    finish_attempt(attempt, ok)
    if not ok:
        audit(db, "login_failed", request, username=username,
              detail="disabled account" if user is not None and not user.active else "")
        db.commit()
        return _login_page(request, ctx, 401, "Wrong user name or password.", username)
    raw = new_token()
    db.execute(delete(WebSession).where(WebSession.expires_at < utcnow()))  # tidy expired sessions
    db.add(WebSession(user_id=user.id, token_hash=token_digest(raw), csrf_token=secrets.token_urlsafe(32),
                      expires_at=utcnow() + min(session_lifetime(s), session_idle(s))))
    audit(db, "login", request, user)
    db.commit()
    resp = RedirectResponse("/", status_code=303)
    _set_cookie(request, resp, SESSION_COOKIE, ctx.session_signer.sign(raw),
                int(session_lifetime(s).total_seconds()))
    resp.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return resp


@router.post("/logout")
def logout(request: Request, ws: PageSession, db: DB, csrf_token: FormText = ""):
    check_csrf(ws, csrf_token)
    user = ws.user
    db.delete(db.merge(ws))
    audit(db, "logout", request, user)
    db.commit()
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=is_https(request))
    return resp


def _home_context(ctx: AppContext) -> dict:
    """What the upload page shows about limits, the model and the prevalence."""
    warning = None
    if ctx.model.available:
        try:
            warning = ctx.model.evidence.warning
        except MammokitError:
            warning = None  # the upload itself reports a model that does not load
    return {"max_upload_mb": ctx.settings.max_upload_bytes / 1024 / 1024, "model_ready": ctx.model.available,
            "model_warning": warning, "prevalence": ctx.model.prevalence, "prevalence_source": PREVALENCE_SOURCE}


@router.get("/")
def home(request: Request, ws: PageSession):
    ctx = get_ctx(request)
    return ctx.render(request, "home.html", user=ws.user, csrf_token=ws.csrf_token, **_home_context(ctx))


@router.post("/upload")
def upload(request: Request, ws: PageSession, db: DB, file: Annotated[UploadFile | None, File()] = None,
           csrf_token: FormText = "", prevalence: FormText = ""):
    ctx = get_ctx(request)
    check_csrf(ws, csrf_token)
    user = db.merge(ws.user)
    try:
        chosen = requested_prevalence(prevalence)
        if file is None or not (file.filename or file.size):
            raise UploadRejected(400, "Choose an image file to upload.")
        row = analyse_file(ctx, db, request, user, file, chosen)
    except UploadRejected as rej:
        return ctx.render(request, "home.html", status_code=rej.status, user=user, csrf_token=ws.csrf_token,
                          error=rej.message, **_home_context(ctx))
    return RedirectResponse(f"/results/{row.uid}", status_code=303)


def not_found(ctx: AppContext, request: Request, ws: WebSession, message: str) -> Response:
    """404 for what does not exist and for what belongs to someone else alike."""
    return ctx.render(request, "error.html", status_code=404, user=ws.user, csrf_token=ws.csrf_token,
                      title="Not found", message=message)


@router.get("/results/{uid}")
def result(uid: str, request: Request, ws: PageSession, db: DB):
    ctx = get_ctx(request)
    row = find(db, Prediction, ws.user, uid)
    if row is None:
        return not_found(ctx, request, ws, "There is no result with this address.")
    probs = sorted(row.probabilities.items(), key=lambda kv: -kv[1])
    return ctx.render(request, "result.html", user=ws.user, csrf_token=ws.csrf_token, p=row, probs=probs,
                      a=row.assessment_detail, pct=percent,
                      has_original=ctx.store.derived_path(row.uid, "original").is_file(),
                      birads_description=BIRADS_DESCRIPTIONS.get(row.birads_category, ""))


@router.get("/model")
def model_card(request: Request, ws: PageSession):
    """The served bundle's model card (the same text as `mammokit model-card`)."""
    from ..report import markdown_to_html, model_card_markdown

    ctx = get_ctx(request)
    try:
        svc = ctx.model
        text = model_card_markdown(svc.model_path or "model", prevalence=svc.prevalence,
                                   thresholds=svc.thresholds, manifest=svc.manifest)
    except MammokitError as exc:
        return ctx.render(request, "error.html", status_code=503, user=ws.user, csrf_token=ws.csrf_token,
                          title="No model card", message=f"No model is loaded: {exc}")
    return ctx.render(request, "model.html", user=ws.user, csrf_token=ws.csrf_token,
                      card=markdown_to_html(text), earned=svc.evidence.earned)


@router.post("/exams")
async def upload_exam(request: Request, ws: PageSession, db: DB, csrf_token: FormText = "",
                      prevalence: FormText = ""):
    ctx = get_ctx(request)
    check_csrf(ws, csrf_token)
    user = db.merge(ws.user)
    files = await exam_files(request)
    try:
        chosen = requested_prevalence(prevalence)
        exam = await run_in_threadpool(analyse_exam, ctx, db, request, user, files, chosen)
    except UploadRejected as rej:
        return ctx.render(request, "home.html", status_code=rej.status, user=user, csrf_token=ws.csrf_token,
                          exam_error=rej.message, **_home_context(ctx))
    return RedirectResponse(f"/exams/{exam.uid}", status_code=303)


@router.get("/exams/{uid}")
def exam_page(uid: str, request: Request, ws: PageSession, db: DB):
    ctx = get_ctx(request)
    exam = find(db, Exam, ws.user, uid)
    if exam is None:
        return not_found(ctx, request, ws, "There is no exam with this address.")
    images = {lat: [i for i in exam.images if i.laterality == lat] for lat in LATERALITIES}
    return ctx.render(request, "exam.html", user=ws.user, csrf_token=ws.csrf_token, exam=exam, d=exam.detail,
                      images=images, names=BREAST_NAMES, pct=percent)


@router.get("/history")
def history(request: Request, ws: PageSession, db: DB):
    ctx = get_ctx(request)
    rows = newest(db, Prediction, ws.user, 500)
    exams = newest(db, Exam, ws.user, 200)
    return ctx.render(request, "history.html", user=ws.user, csrf_token=ws.csrf_token, rows=rows, exams=exams)


@router.get("/audit")
def audit_log(request: Request, ws: PageSession, db: DB):
    ctx = get_ctx(request)
    if not ws.user.is_admin:
        return not_found(ctx, request, ws, "There is no page with this address.")
    events = db.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(500)).all()
    return ctx.render(request, "audit.html", user=ws.user, csrf_token=ws.csrf_token, events=events)


@router.get("/media/{uid}/{kind}.png")
def media(uid: str, kind: str, request: Request, db: DB):
    """Images of a result, for its owner (or an admin); session cookie or API token."""
    ctx = get_ctx(request)
    user = request_user(ctx.session_signer, ctx.settings, db, request)
    if user is None:
        return Response(status_code=401)
    row = find(db, Prediction, user, uid)
    if row is None or kind not in DERIVED_KINDS:
        return Response(status_code=404)
    path = ctx.store.derived_path(row.uid, kind)
    if not path.is_file():
        return Response(status_code=404)
    return FileResponse(path, media_type="image/png", headers={"Cache-Control": "no-store"})
