"""One upload -> validated image -> model -> stored files + database row. Shared by the page and the API."""
from __future__ import annotations

import secrets

from fastapi import Request
from sqlalchemy.orm import Session

from .._json import strict_dumps
from ..errors import ImageReadError, MammokitError, ModelError
from ..io import read_image_bytes, sniff_format
from ._context import AppContext, audit
from ._db import Assessment, Prediction, User
from ._security import patient_key
from ._store import deidentify_dicom, display_name, sha256, thumbnail

NO_CATEGORY = "none"  # predictions.birads_category when the model has not earned a category


class UploadRejected(Exception):
    """An upload the server refuses: `status` is the HTTP code, `message` one line for the user."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def _status_for(exc: MammokitError) -> int:
    text = str(exc)
    if isinstance(exc, ImageReadError) and ("exceeds the limit" in text or "over the limit" in text):
        return 413
    return 422


def too_large_message(name: str, size: int, limit: int) -> str:
    return f"{name}: file is {size / 1e6:.1f} MB, over the upload limit of {limit / 1e6:.1f} MB"


def analyse_upload(ctx: AppContext, db: Session, request: Request, user: User,
                   filename: str | None, data: bytes, prevalence: float | None = None) -> Prediction:
    """Validate, predict, store. Nothing is written until the image has been read and analysed.
    ``prevalence``: deployment prevalence for this upload's BI-RADS rule (default: the server's)."""
    settings = ctx.settings
    shown = display_name(filename)
    try:
        if len(data) > settings.max_upload_bytes:
            raise UploadRejected(413, too_large_message(shown, len(data), settings.max_upload_bytes))
        if not data:
            raise UploadRejected(422, f"{shown}: empty file (0 bytes)")
        fmt = sniff_format(data)
        if fmt is None and data[:2] in (b"\x02\x00", b"\x08\x00"):  # preamble-less DICOM
            fmt = "dicom"
        if fmt is None:
            raise UploadRejected(
                415, f"{shown}: not a supported image (DICOM, PNG, JPEG, PGM or TIFF content expected)")
        try:
            image = read_image_bytes(data, shown, max_pixels=settings.max_pixels,
                                     max_bytes=settings.max_upload_bytes)
        except MammokitError as exc:
            raise UploadRejected(_status_for(exc), str(exc)) from None
        scrub = tuple(x for x in (image.meta.patient_id, image.meta.extra.get("patient_name")) if x)
        if image.meta.format == "dicom":
            scrub += _dicom_identifiers(data)
            shown = display_name(filename, scrub)
        try:
            result = ctx.model.analyse(image, prevalence)
        except ModelError as exc:
            raise UploadRejected(503, f"model unavailable: {exc}") from None
        except MammokitError as exc:
            raise UploadRejected(422, f"{shown}: {exc}") from None
    except UploadRejected as rej:
        audit(db, "prediction_rejected", request, user, detail=rej.message)
        db.commit()
        raise

    digest = sha256(data)
    content = deidentify_dicom(data, shown) if image.meta.format == "dicom" else data
    stored = ctx.store.save_upload(content, digest, image.meta.format)
    uid = secrets.token_urlsafe(12)
    try:
        ctx.store.save_derived(uid, "view", result.view)
        ctx.store.save_derived(uid, "thumb", thumbnail(result.view))
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
            notes_json=strict_dumps([_scrub_text(n, scrub) for n in result.notes]),
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
        db.commit()
    except BaseException:
        db.rollback()
        ctx.store.remove_derived(uid)
        raise
    return row


def _dicom_identifiers(data: bytes) -> tuple[str, ...]:
    """Patient name and ID strings of a DICOM, only to scrub them from what we store."""
    import io

    import pydicom

    try:
        ds = pydicom.dcmread(io.BytesIO(data), force=True, stop_before_pixels=True)
    except Exception:  # noqa: BLE001
        return ()
    values = [str(ds.get(k, "") or "") for k in ("PatientName", "PatientID", "OtherPatientIDs")]
    return tuple(v for v in values if len(v) >= 3)


def _scrub_text(text: str, scrub: tuple[str, ...]) -> str:
    for s in scrub:
        text = text.replace(s, "[removed]")
    return text
