"""JSON API (described by OpenAPI at /api/openapi.json). Auth: `Authorization: Bearer <token>`
(`mammokit users token NAME`) or the browser session cookie plus an `X-CSRF-Token` header on POST."""
from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, File, HTTPException, Request, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from .. import constants
from ..birads import BIRADS_DESCRIPTIONS
from ._context import get_ctx, session_from_cookie, user_from_bearer
from ._db import Prediction, User
from ._pages import DB, find_prediction, visible_predictions
from ._security import tokens_equal
from ._uploads import UploadRejected, analyse_upload, too_large_message

router = APIRouter(prefix="/api", tags=["predictions"])
public = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    model: bool


class Me(BaseModel):
    name: str
    role: str


class Birads(BaseModel):
    category: str
    description: str
    rule: str
    note: str = "Model suggestion for research use, not a radiologist's assessment."


class PredictionOut(BaseModel):
    id: str
    created_at: dt.datetime
    owner: str
    file_name: str
    format: str
    rows: int
    cols: int
    label: str
    probabilities: dict[str, float]
    p_malignant: float | None
    in_distribution: bool
    notes: list[str]
    birads: Birads
    view_url: str
    heatmap_url: str | None
    heatmap_method: str | None
    overlay_url: str | None
    thumbnail_url: str
    disclaimer: str = constants.RESEARCH_DISCLAIMER


def to_out(row: Prediction) -> PredictionOut:
    base = f"/media/{row.uid}"
    return PredictionOut(
        id=row.uid, created_at=row.created_at, owner=row.user.name, file_name=row.original_name,
        format=row.format, rows=row.rows, cols=row.cols, label=row.label, probabilities=row.probabilities,
        p_malignant=row.p_malignant, in_distribution=row.in_distribution, notes=row.notes,
        birads=Birads(category=row.birads_category,
                      description=BIRADS_DESCRIPTIONS.get(row.birads_category, ""), rule=row.birads_rule),
        view_url=f"{base}/view.png", thumbnail_url=f"{base}/thumb.png",
        heatmap_url=f"{base}/heatmap.png" if row.has_heatmap else None,
        overlay_url=f"{base}/overlay.png" if row.has_heatmap else None,
        heatmap_method=row.heatmap_method if row.has_heatmap else None,
    )


def api_user(request: Request, db: DB) -> User:
    user = user_from_bearer(db, request)
    if user is not None:
        return user
    ws = session_from_cookie(get_ctx(request), db, request)
    if ws is None:
        raise HTTPException(401, "login or an API token (Authorization: Bearer ...) required",
                            headers={"WWW-Authenticate": "Bearer"})
    if request.method not in ("GET", "HEAD", "OPTIONS") and not tokens_equal(
            ws.csrf_token, request.headers.get("x-csrf-token")):
        raise HTTPException(403, "CSRF token missing or wrong (send the X-CSRF-Token header)")
    return ws.user


ApiUser = Annotated[User, Depends(api_user)]


@public.get("/health", response_model=Health)
def health(request: Request) -> Health:
    """Liveness check; needs no login."""
    return Health(status="ok", model=get_ctx(request).model.available)


@router.get("/me", response_model=Me)
def me(user: ApiUser) -> Me:
    return Me(name=user.name, role=user.role)


@router.post("/predictions", response_model=PredictionOut, status_code=201,
             responses={413: {"description": "file or image too large"},
                        415: {"description": "not a supported image"},
                        422: {"description": "corrupt or unreadable image"},
                        503: {"description": "no model loaded"}})
def create_prediction(request: Request, file: Annotated[UploadFile, File()], user: ApiUser,
                      db: DB):
    """Upload one mammogram (DICOM, PNG, JPEG, PGM, TIFF) and get the model's result."""
    ctx = get_ctx(request)
    try:
        if file.size is not None and file.size > ctx.settings.max_upload_bytes:
            raise UploadRejected(413, too_large_message(file.filename or "upload", file.size,
                                                        ctx.settings.max_upload_bytes))
        row = analyse_upload(ctx, db, request, user, file.filename, file.file.read())
    except UploadRejected as rej:
        return JSONResponse({"detail": rej.message}, status_code=rej.status)
    return to_out(row)


@router.get("/predictions", response_model=list[PredictionOut])
def list_predictions(user: ApiUser, db: DB, limit: int = 100):
    """Newest first; a clinician sees their own, an admin everyone's."""
    rows = db.scalars(visible_predictions(user).order_by(Prediction.created_at.desc(), Prediction.id.desc())
                      .limit(max(1, min(limit, 1000)))).all()
    return [to_out(r) for r in rows]


@router.get("/predictions/{uid}", response_model=PredictionOut, responses={404: {"description": "not found"}})
def get_prediction(uid: str, user: ApiUser, db: DB):
    row = find_prediction(db, user, uid)
    if row is None:
        raise HTTPException(404, "no such prediction")
    return to_out(row)


@router.get("/openapi.json", include_in_schema=False)
def openapi(request: Request, user: ApiUser):
    return JSONResponse(request.app.openapi())

