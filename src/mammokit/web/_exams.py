"""Several images of one screening exam in one upload: grouped into breasts, one assessment per breast and
one for the exam. Shared by the page and the API.

Grouping: a DICOM says where it belongs (ImageLaterality/Laterality, ViewPosition; read by mammokit.io);
an image without those tags goes into one of the form's four slots (right CC, right MLO, left CC, left
MLO). All DICOMs must share one StudyInstanceUID and one PatientID where they have them (kept only as
salted hashes). Any problem - too many or too large files, a file that cannot be read, mixed exams or
women, two images in one place, an image with nowhere to go - refuses the whole upload with one line,
and nothing is stored: every image is read and analysed before the first write, and the rows of all
images and the exam are committed together.
"""
from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

from fastapi import Request
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from .._json import strict_dumps
from ..birads import BIRADS_DESCRIPTIONS, assess, mean_probabilities, most_severe
from ..errors import InputFileError
from ..io import Image
from ._audit import audit
from ._bodylimit import EXAM_FILES
from ._context import AppContext
from ._db import Exam, ExamImage, User
from ._decode import read_upload
from ._privacy import client_label, dicom_exam_ids, patient_key
from ._uploads import (
    NO_CATEGORY,
    UploadRejected,
    _status_for,
    prepare_upload,
    store_upload,
    too_large_message,
)

log = logging.getLogger("mammokit.web")

MAX_EXAM_FILES = 8
LATERALITIES = ("R", "L")
BREAST_NAMES = {"R": "right", "L": "left"}
SLOTS = (("R", "CC"), ("R", "MLO"), ("L", "CC"), ("L", "MLO"))  # the form's fields rcc, rmlo, lcc, lmlo
COMBINATION = ("a breast's probabilities are the mean of its views'; the exam takes the most urgent breast "
               "(ACR hierarchy 1 < 2 < 3 < 0 < 4 < 5)")


@dataclass
class ExamFile:
    filename: str | None
    data: bytes
    slot: tuple[str, str] | None = None  # (laterality, view) from the form, for files without tags


@dataclass
class _Placed:
    file: ExamFile
    image: Image
    laterality: str
    view: str
    study: str | None
    patient: str | None


def _reject(status: int, label: str, reason: str) -> UploadRejected:
    """A refusal whose audit text (`reason`) has no client file name; only the reply names the file."""
    rej = UploadRejected(status, reason)
    rej.message = f"{label}: {rej.reason}"
    return rej


def slot_field(laterality: str, view: str) -> str:
    return f"{laterality}{view}".lower()  # "rcc", "lmlo"


async def exam_files(request: Request) -> list[ExamFile]:
    """The form's files: `files` (several DICOMs) and the four slots rcc, rmlo, lcc, lmlo (one image each).
    Empty file inputs (a browser sends them with no name and no bytes) are left out."""
    form = await request.form()
    out = []
    for upload in form.getlist("files"):
        if isinstance(upload, UploadFile):
            out.append(ExamFile(upload.filename, await upload.read()))
    for lat, view in SLOTS:
        upload = form.get(slot_field(lat, view))
        if isinstance(upload, UploadFile):
            out.append(ExamFile(upload.filename, await upload.read(), (lat, view)))
    return [f for f in out if f.data or f.filename]


def _place(ctx: AppContext, files: list[ExamFile]) -> list[_Placed]:
    settings = ctx.settings
    if not files:
        raise UploadRejected(400, "Choose the images of one exam (DICOMs, or images in the four slots).")
    if len(files) > MAX_EXAM_FILES:
        raise UploadRejected(413, f"{len(files)} files: an exam upload takes at most {MAX_EXAM_FILES}")
    total, limit = sum(len(f.data) for f in files), EXAM_FILES * settings.max_upload_bytes
    if total > limit:  # the body guard's limit for an exam request (four files' worth)
        raise UploadRejected(413, f"the {len(files)} files total {total / 1e6:.1f} MB, over the exam limit "
                                  f"of {limit / 1e6:.1f} MB")
    placed: list[_Placed] = []
    for f in files:
        label = client_label(f.filename)
        if not f.data:
            raise _reject(422, label, "empty file (0 bytes)")
        if len(f.data) > settings.max_upload_bytes:
            raise _reject(413, label, too_large_message(None, len(f.data), settings.max_upload_bytes)
                          .split(": ", 1)[1])
        try:
            image = read_upload(f.data, "upload", max_pixels=settings.max_pixels,
                                max_bytes=settings.max_upload_bytes)
        except InputFileError as exc:
            raise _reject(_status_for(exc), label, exc.problem) from None
        lat, view = image.meta.laterality, (image.meta.view or "").upper() or None
        if f.slot is not None:
            if (lat and lat != f.slot[0]) or (view and view != f.slot[1]):
                raise _reject(422, label, f"the file says {lat or '?'} {view or '?'} but was put in the "
                                          f"{BREAST_NAMES[f.slot[0]]} {f.slot[1]} slot")
            lat, view = f.slot
        if lat not in LATERALITIES or not view:
            raise _reject(422, label, "the file does not say which breast and view it is: put it in one of "
                                      "the four slots (right CC, right MLO, left CC, left MLO)")
        study, patient = dicom_exam_ids(f.data) if image.meta.format == "dicom" else (None, None)
        placed.append(_Placed(f, image, lat, view, study, patient))
    seen: dict[tuple[str, str], str] = {}
    for p in placed:
        key = (p.laterality, p.view)
        if key in seen:
            raise _reject(422, f"{seen[key]} and {client_label(p.file.filename)}",
                          f"two images are {BREAST_NAMES[key[0]]} {key[1]}; upload one image per breast and view")
        seen[key] = client_label(p.file.filename)
    formats = {p.image.meta.format == "dicom" for p in placed}
    if len(formats) > 1:
        raise UploadRejected(422, "the upload mixes DICOMs and other images: an exam is either DICOMs (their "
                                  "tags say whose they are) or images placed in the four slots")
    for what, values in (("exams (StudyInstanceUID)", {p.study for p in placed if p.study}),
                         ("women (PatientID)", {p.patient for p in placed if p.patient})):
        if len(values) > 1:
            raise UploadRejected(422, f"these files come from {len(values)} different {what}: upload one "
                                      "exam at a time")
    order = {key: i for i, key in enumerate(SLOTS)}
    return sorted(placed, key=lambda p: (order.get((p.laterality, p.view), len(SLOTS)), p.view))


def _breast_detail(ctx: AppContext, items: list[tuple[_Placed, object]], prevalence: float | None,
                   compared: bool) -> dict:
    ev = ctx.model.evidence
    results = [r for _p, r in items]
    probs = mean_probabilities([r.probabilities for r in results])
    ok = all(r.in_distribution for r in results)
    a = assess(probs, earned=ev.earned, warning=ev.warning, training_prevalence=ev.training_prevalence,
               deployment_prevalence=ctx.model.prevalence if prevalence is None else prevalence,
               assessable=ok, reason=None if ok else "a view of this breast is not assessable",
               thresholds=ctx.model.thresholds)
    return {**a.as_dict(), "views": [p.view for p, _r in items], "probabilities": probs,
            "compared_with_other_breast": compared}


def exam_detail(ctx: AppContext, placed_results: list[tuple[_Placed, object]], prevalence: float | None,
                compared: bool) -> dict:
    """Per-breast and per-exam assessment (JSON-ready)."""
    breasts = {}
    for lat in LATERALITIES:
        items = [(p, r) for p, r in placed_results if p.laterality == lat]
        if items:
            breasts[lat] = _breast_detail(ctx, items, prevalence, compared)
    category = most_severe(b["category"] for b in breasts.values())
    worst = next((lat for lat, b in breasts.items() if b["category"] == category), None) if category else None
    ev = ctx.model.evidence
    return {"warning": ev.warning, "category": category,
            "description": BIRADS_DESCRIPTIONS.get(category, "") if category else "",
            "from_breast": worst, "breasts": breasts, "combination": COMBINATION}


def analyse_exam(ctx: AppContext, db: Session, request: Request, user: User, files: list[ExamFile],
                 prevalence: float | None = None) -> Exam:
    try:
        placed = _place(ctx, [f for f in files if f.data or f.filename])
    except UploadRejected as rej:
        log.info("exam upload rejected (%d) for user %s: %s", rej.status, user.name, rej.reason)
        audit(db, "exam_rejected", request, user, detail=rej.reason)
        db.commit()
        raise
    where = {(p.laterality, p.view): p for p in placed}
    compare = ctx.model.compares_breasts
    prepared = []
    for p in placed:  # every image analysed before anything is written
        other = where.get(("L" if p.laterality == "R" else "R", p.view))
        prepared.append(prepare_upload(ctx, db, request, user, p.file.filename, p.file.data, prevalence,
                                       image=p.image, pair=other.image if other and compare else None))
    detail = exam_detail(ctx, [(p, q.result) for p, q in zip(placed, prepared)], prevalence,
                         compare and any(("L" if p.laterality == "R" else "R", p.view) in where for p in placed))
    rows = []
    try:
        for q in prepared:
            rows.append(store_upload(ctx, db, request, user, q, commit=False))
        uid = secrets.token_urlsafe(12)
        studies = {p.study for p in placed if p.study}
        exam = Exam(uid=uid, user_id=user.id, patient_key=patient_key(ctx.secret, next(
                        (p.patient for p in placed if p.patient), None)),
                    study_key=patient_key(ctx.secret, "study:" + next(iter(studies))) if studies else None,
                    category=detail["category"] or NO_CATEGORY, detail_json=strict_dumps(detail, allow_nan=False))
        exam.images = [ExamImage(prediction_id=row.id, position=i, laterality=p.laterality, view=p.view)
                       for i, (p, row) in enumerate(zip(placed, rows))]
        db.add(exam)
        db.flush()
        audit(db, "exam", request, user, detail=f"{uid} {len(rows)} images, BI-RADS {exam.category}")
        db.commit()
    except BaseException:
        db.rollback()
        for row in rows:
            ctx.store.remove_derived(row.uid)
        raise
    return exam
