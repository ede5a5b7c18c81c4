"""JSON API (described by OpenAPI at /api/openapi.json). Auth: `Authorization: Bearer <token>`
(`mammokit users token NAME`) or the browser session cookie plus an `X-CSRF-Token` header on POST."""
from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, File, HTTPException, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from .. import constants
from ..birads import BIRADS_DESCRIPTIONS
from ._context import get_ctx
from ._db import Exam, Prediction
from ._deps import DB, ApiUser
from ._exams import analyse_exam, exam_files
from ._queries import find, newest
from ._uploads import NO_CATEGORY, UploadRejected, analyse_file, requested_prevalence

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


class AssessmentOut(BaseModel):
    """How the BI-RADS suggestion was made (absent for results stored before this was recorded)."""

    earned: bool  # False: the model has not shown it can separate the classes; no category
    category: str | None
    rule_used: str  # "deployment prevalence", "training prevalence" or "none"
    p_malignant_training: float | None  # P(malignant) at the prevalence the model was calibrated at
    p_malignant_deployment: float | None  # the same moved to the deployment prevalence
    training_prevalence: float | None  # malignant fraction the model was calibrated at
    deployment_prevalence: float | None  # malignant fraction assumed where it is used
    rule: str


class PredictionOut(BaseModel):
    # First, so that it tops the JSON: set when the model has not shown it can separate the classes.
    warning: str | None = None
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
    birads: Birads | None  # None: no category (see warning)
    assessment: AssessmentOut | None
    view_url: str
    heatmap_url: str | None
    heatmap_method: str | None
    overlay_url: str | None
    thumbnail_url: str
    disclaimer: str = constants.RESEARCH_DISCLAIMER


def to_out(row: Prediction) -> PredictionOut:
    base = f"/media/{row.uid}"
    detail = row.assessment_detail
    birads = None if row.birads_category == NO_CATEGORY else Birads(
        category=row.birads_category, description=BIRADS_DESCRIPTIONS.get(row.birads_category, ""),
        rule=row.birads_rule)
    return PredictionOut(
        warning=(detail or {}).get("withheld"),
        assessment=None if detail is None else AssessmentOut(earned=detail["category"] is not None, **{
            k: detail[k] for k in AssessmentOut.model_fields if k != "earned"}),
        id=row.uid, created_at=row.created_at, owner=row.user.name, file_name=row.original_name,
        format=row.format, rows=row.rows, cols=row.cols, label=row.label, probabilities=row.probabilities,
        p_malignant=row.p_malignant, in_distribution=row.in_distribution, notes=row.notes,
        birads=birads,
        view_url=f"{base}/view.png", thumbnail_url=f"{base}/thumb.png",
        heatmap_url=f"{base}/heatmap.png" if row.has_heatmap else None,
        overlay_url=f"{base}/overlay.png" if row.has_heatmap else None,
        heatmap_method=row.heatmap_method if row.has_heatmap else None,
    )


class BreastOut(BaseModel):
    category: str | None  # None: no category (see the exam's warning)
    description: str
    rule: str
    rule_used: str
    p_malignant_training: float | None  # mean of the views' P(malignant), at the training prevalence
    p_malignant_deployment: float | None
    training_prevalence: float | None
    deployment_prevalence: float | None
    views: list[str]
    compared_with_other_breast: bool
    images: list[PredictionOut]


class ExamOut(BaseModel):
    warning: str | None = None  # first: set when the model has not shown it can separate the classes
    id: str
    created_at: dt.datetime
    owner: str
    category: str | None  # the most urgent breast's
    description: str
    from_breast: str | None
    combination: str
    breasts: dict[str, BreastOut]  # "R", "L"
    disclaimer: str = constants.RESEARCH_DISCLAIMER


def exam_out(exam: Exam) -> ExamOut:
    d = exam.detail
    breasts = {}
    for lat, b in d["breasts"].items():
        images = [to_out(i.prediction) for i in exam.images if i.laterality == lat]
        breasts[lat] = BreastOut(images=images, **{k: b[k] for k in BreastOut.model_fields if k != "images"})
    return ExamOut(warning=d.get("warning"), id=exam.uid, created_at=exam.created_at, owner=exam.user.name,
                   category=d["category"], description=d["description"], from_breast=d["from_breast"],
                   combination=d["combination"], breasts=breasts)


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
                      db: DB, prevalence: Annotated[float | None, Query(
                          description="Malignant fraction of the population the image comes from; the BI-RADS "
                                      "rule uses P(malignant) moved to it (default: the server's)")] = None):
    """Upload one mammogram (DICOM, PNG, JPEG, PGM, TIFF) and get the model's result."""
    ctx = get_ctx(request)
    try:
        row = analyse_file(ctx, db, request, user, file, requested_prevalence(prevalence))
    except UploadRejected as rej:
        return JSONResponse({"detail": rej.message}, status_code=rej.status)
    return to_out(row)


@router.post("/exams", response_model=ExamOut, status_code=201,
             responses={413: {"description": "too many or too large files"},
                        422: {"description": "unreadable, mixed or unplaceable files"},
                        503: {"description": "no model loaded"}})
async def create_exam(request: Request, user: ApiUser, db: DB, prevalence: Annotated[float | None, Query(
        description="Malignant fraction of the population (default: the server's)")] = None):
    """Upload the images of one exam: multipart fields `files` (DICOMs, grouped by their tags) and/or `rcc`,
    `rmlo`, `lcc`, `lmlo` (one image each, for images without tags). One assessment per breast and one for
    the exam; a mixed, oversized or unplaceable upload is refused whole and nothing is stored."""
    ctx = get_ctx(request)
    files = await exam_files(request)
    try:
        prevalence = requested_prevalence(prevalence)
        exam = await run_in_threadpool(analyse_exam, ctx, db, request, user, files, prevalence)
    except UploadRejected as rej:
        return JSONResponse({"detail": rej.message}, status_code=rej.status)
    return exam_out(exam)


@router.get("/exams", response_model=list[ExamOut])
def list_exams(user: ApiUser, db: DB, limit: int = 100):
    """Newest first; a clinician sees their own, an admin everyone's."""
    return [exam_out(e) for e in newest(db, Exam, user, limit)]


def _visible(db, table, user, uid: str, what: str):
    """The row of `table` with this uid that `user` may see; 404 alike for what is absent and what is not theirs."""
    row = find(db, table, user, uid)
    if row is None:
        raise HTTPException(404, f"no such {what}")
    return row


@router.get("/exams/{uid}", response_model=ExamOut, responses={404: {"description": "not found"}})
def get_exam(uid: str, user: ApiUser, db: DB):
    return exam_out(_visible(db, Exam, user, uid, "exam"))


@router.get("/predictions", response_model=list[PredictionOut])
def list_predictions(user: ApiUser, db: DB, limit: int = 100):
    """Newest first; a clinician sees their own, an admin everyone's."""
    return [to_out(r) for r in newest(db, Prediction, user, limit)]


@router.get("/predictions/{uid}", response_model=PredictionOut, responses={404: {"description": "not found"}})
def get_prediction(uid: str, user: ApiUser, db: DB):
    return to_out(_visible(db, Prediction, user, uid, "prediction"))


@router.get("/openapi.json", include_in_schema=False)
def openapi(request: Request, user: ApiUser):
    return JSONResponse(request.app.openapi())

