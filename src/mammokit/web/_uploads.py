"""One upload -> validated image -> model -> stored files + database row. Shared by the page and the API."""
from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

from fastapi import Request, UploadFile
from sqlalchemy.orm import Session

from .._json import strict_dumps
from ..birads import check_prevalence
from ..errors import ConfigError, ImageReadError, InputFileError, MammokitError, ModelError
from ..io import Image, sniff_format
from ._analysis import Analysis
from ._audit import audit
from ._context import AppContext
from ._db import Assessment, Prediction, User
from ._decode import read_upload
from ._privacy import (
    client_label,
    deidentify_dicom,
    dicom_identifiers,
    patient_key,
    public_reason,
    scrub,
    stored_name,
)
from ._store import sha256, thumbnail

log = logging.getLogger("mammokit.web")

NO_CATEGORY = "none"  # predictions.birads_category when the model has not earned a category
UPLOAD_NAME = "upload"  # the name readers put in their messages: never the client's file name


class UploadRejected(Exception):
    """An upload the server refuses: `status` is the HTTP code, `message` one line for the user.
    `reason` is that line without the client's file name: what the audit log keeps."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.reason = public_reason(message)
        self.message = self.reason


def _status_for(exc: MammokitError) -> int:
    text = str(exc)
    if isinstance(exc, ImageReadError) and ("exceeds the limit" in text or "over the limit" in text):
        return 413
    return 422


def requested_prevalence(value) -> float | None:
    """The deployment prevalence a form field or query parameter asks for; blank or absent: the server's.
    A bad value is refused with one line (422)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        return check_prevalence(value)
    except ConfigError as exc:
        raise UploadRejected(422, str(exc)) from None


def too_large_message(name: str | None, size: int, limit: int) -> str:
    return f"{client_label(name)}: file is {size / 1e6:.1f} MB, over the upload limit of {limit / 1e6:.1f} MB"


@dataclass
class PreparedUpload:
    """An upload read, de-identified and analysed, with nothing written yet (see `store_upload`)."""

    data: bytes
    content: bytes  # what is stored (the de-identified DICOM, or the upload as sent)
    image: Image
    result: Analysis
    shown: str
    identifiers: tuple[str, ...]  # patient name/ID strings, removed from stored notes


def analyse_upload(ctx: AppContext, db: Session, request: Request, user: User,
                   filename: str | None, data: bytes, prevalence: float | None = None) -> Prediction:
    """Validate, de-identify, predict, store. Nothing is written until the image has been read and analysed.
    ``prevalence``: deployment prevalence for this upload's BI-RADS rule (default: the server's).
    The client's file name is only echoed (shortened) in the message back to this client: the database,
    the audit log and the server log get a name the server derives (`DICOM R CC`)."""
    return store_upload(ctx, db, request, user, prepare_upload(ctx, db, request, user, filename, data, prevalence))


def analyse_file(ctx: AppContext, db: Session, request: Request, user: User, file: UploadFile,
                 prevalence: float | None = None) -> Prediction:
    """`analyse_upload` for a route's uploaded file: refused with 413 before it is read when its size is over
    the limit (the body guard has already bounded what was received)."""
    if file.size is not None and file.size > ctx.settings.max_upload_bytes:
        raise UploadRejected(413, too_large_message(file.filename or "upload", file.size,
                                                    ctx.settings.max_upload_bytes))
    return analyse_upload(ctx, db, request, user, file.filename, file.file.read(), prevalence)


def prepare_upload(ctx: AppContext, db: Session, request: Request, user: User, filename: str | None,
                   data: bytes, prevalence: float | None = None, image: Image | None = None,
                   pair: Image | None = None) -> PreparedUpload:
    """Everything before the first write; a refusal is audited and raised as UploadRejected.
    ``image``: already read from ``data`` (exam uploads read every file first); ``pair``: the other breast,
    for a model that compares the two."""
    settings = ctx.settings
    label = client_label(filename)
    try:
        if len(data) > settings.max_upload_bytes:
            raise UploadRejected(413, too_large_message(None, len(data), settings.max_upload_bytes)
                                 .split(": ", 1)[1])
        if not data:
            raise UploadRejected(422, "empty file (0 bytes)")
        fmt = sniff_format(data)
        if fmt is None and data[:2] in (b"\x02\x00", b"\x08\x00"):  # preamble-less DICOM
            fmt = "dicom"
        if fmt is None:
            raise UploadRejected(415, "not a supported image (DICOM, PNG, JPEG, PGM or TIFF content expected)")
        try:
            if image is None:
                image = read_upload(data, UPLOAD_NAME, max_pixels=settings.max_pixels,
                                    max_bytes=settings.max_upload_bytes)
        except InputFileError as exc:
            log.info("upload rejected, %s: %s", UPLOAD_NAME, exc.problem)  # the full reader text
            raise UploadRejected(_status_for(exc), exc.problem) from None
        identifiers = tuple(x for x in (image.meta.patient_id, image.meta.extra.get("patient_name")) if x)
        content = data
        if image.meta.format == "dicom":
            identifiers += dicom_identifiers(data)
            try:  # before the model runs: a file that cannot be stored safely is refused (PS3.15 profile)
                content = deidentify_dicom(data, ctx.secret, UPLOAD_NAME)
            except InputFileError as exc:
                raise UploadRejected(422, exc.problem) from None
        shown = stored_name(image.meta.format, image.meta.laterality, image.meta.view)
        try:
            result = ctx.model.analyse(image, prevalence, pair=pair)
        except ModelError as exc:
            log.error("model unavailable: %s", exc)
            raise UploadRejected(503, "model unavailable: the server has no working model; "
                                      "tell the administrator") from None
        except MammokitError as exc:
            raise UploadRejected(422, str(exc)) from None
        except Exception:  # hostile pixel content must give a 4xx, never a 500
            log.exception("analysis failed for a %s upload", image.meta.format)
            raise UploadRejected(422, "this image could not be analysed (unusual or damaged pixel data)") from None
    except UploadRejected as rej:
        log.info("upload rejected (%d) for user %s: %s", rej.status, user.name, rej.reason)
        audit(db, "prediction_rejected", request, user, detail=rej.reason)
        db.commit()
        rej.message = f"{label}: {rej.reason}"
        raise
    return PreparedUpload(data, content, image, result, shown, identifiers)


def store_upload(ctx: AppContext, db: Session, request: Request, user: User, prepared: PreparedUpload,
                 commit: bool = True) -> Prediction:
    """Write a prepared upload: stored file, derived images, database rows. ``commit=False`` leaves the
    transaction open for a caller that stores several (an exam); on any failure the derived images of
    this upload are removed and the transaction is rolled back."""
    data, content, image, result = prepared.data, prepared.content, prepared.image, prepared.result
    shown, identifiers = prepared.shown, prepared.identifiers
    digest = sha256(data)
    stored = ctx.store.save_upload(content, digest, image.meta.format)
    uid = secrets.token_urlsafe(12)
    try:
        ctx.store.save_derived(uid, "view", result.view)
        ctx.store.save_derived(uid, "thumb", thumbnail(result.view))
        if result.original is not None:
            ctx.store.save_derived(uid, "original", result.original)
        if result.heatmap is not None:
            ctx.store.save_derived(uid, "heatmap", (result.heatmap * 255).round().astype("uint8"))
            ctx.store.save_derived(uid, "overlay", result.overlay)
        row = Prediction(
            uid=uid, user_id=user.id, original_name=shown, upload_sha256=digest, stored_name=stored,
            format=image.meta.format, rows=int(image.shape[0]), cols=int(image.shape[1]),
            patient_key=patient_key(ctx.secret, image.meta.patient_id),
            laterality=(image.meta.laterality or None), view=(image.meta.view or None),
            label=result.label, probabilities_json=strict_dumps(result.probabilities),
            p_malignant=result.p_malignant, in_distribution=result.in_distribution,
            notes_json=strict_dumps([scrub(n, identifiers) for n in result.notes]),
            birads_category=result.birads.category or NO_CATEGORY, birads_rule=result.birads.rule,
            has_heatmap=result.heatmap is not None, heatmap_method=ctx.model.heatmap_method,
            model_identity=ctx.model.identity,
        )
        row.assessment = Assessment(earned=result.birads.category is not None,
                                    detail_json=strict_dumps(result.birads.as_dict(), allow_nan=False))
        db.add(row)
        db.flush()
        audit(db, "prediction", request, user,
              detail=f"{uid} {result.label} {result.birads.label} ({image.meta.format})")
        if commit:
            db.commit()
    except BaseException:
        db.rollback()
        ctx.store.remove_derived(uid)
        raise
    return row

