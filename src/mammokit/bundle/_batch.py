"""Batch prediction at engine speed: many images -> one CSV or Parquet file, a row per image and per breast.

The whole-image bundle runs through the same engine as ``mammokit features`` (``features.load_engine``,
ONNX Runtime by default, batches of ``batch_size``, one helper thread decoding and preprocessing ahead);
the head, calibration and out-of-distribution checks then run on the whole batch at once
(``Predictor.predictions_from_features``). The lesion bundle has its own multi-scale maps per image and runs
image by image (``LesionPredictor.predict``) with the same decode thread.

Resuming: image rows are appended and flushed batch by batch, so after an interruption the rows already in
the file are kept and only the remaining images are computed (images that failed are tried again). Breast
rows are written last, from every image row of the breast. A sidecar ``<out>.run.json`` records the bundle
and prevalence, and a run with other settings refuses to append to the file.

Parquet (``--out preds.parquet``; the format is chosen by the suffix): a Parquet file cannot be appended to
safely while a run may be killed, so the run writes exactly the CSV above to a journal ``<out>.journal.csv``
beside it (resumed the same way), and only when every image is done converts it, typed (``p_*`` float64,
``images`` int64, ``in_distribution`` bool, the rest strings; empty cells of typed columns are null), to
``<out>`` through a temporary file and ``os.replace``, then removes the journal. An interrupted run leaves the
journal, which the next run resumes; a finished Parquet file is read back for its finished rows when a later
run adds images.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .._json import strict_dumps
from ..birads import DEFAULT_DEPLOYMENT_PREVALENCE, BiradsAssessment, assess
from ..constants import IMAGE_SUFFIXES, MALIGNANT
from ..datasets import Record
from ..errors import ConfigError, MammokitError
from ._evidence import ModelEvidence
from ._prediction import Prediction

BATCH_FORMAT = "mammokit-batch-predictions/1"
_FIXED_COLUMNS = ("level", "id", "path", "patient", "study", "breast", "laterality", "view", "images", "label")
_TAIL_COLUMNS = ("p_malignant_max", "p_malignant_deployment", "birads", "birads_description", "birads_withheld",
                 "in_distribution", "notes", "error")


def assessment_of(pred: Prediction, evidence: ModelEvidence, prevalence: float) -> BiradsAssessment:
    """The BI-RADS assessment of one prediction: the category is withheld when the model has not earned one,
    and an out-of-distribution image is not assessable (its notes say why)."""
    return assess(pred.probabilities, earned=evidence.earned, warning=evidence.warning,
                  training_prevalence=evidence.training_prevalence, deployment_prevalence=prevalence,
                  assessable=pred.in_distribution,
                  reason=None if pred.in_distribution else "; ".join(pred.notes) or None)


# -- inputs ---------------------------------------------------------------------------------------------
def records_from_paths(paths: Sequence[str | Path]) -> list[Record]:
    """Records for image files and folders (every image file below a folder, by suffix, sorted).

    Ids are unique: a file's path as given, or for a folder the path relative to it without the suffix.
    Patient, study and side are unknown, so these images get no breast rows."""
    out: list[Record] = []
    for given in paths:
        p = Path(given)
        if p.is_dir():
            files = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES
                           and not any(part.startswith(".") for part in f.relative_to(p).parts))
            if not files:
                raise ConfigError(f"{p}: no image files ({', '.join(sorted(IMAGE_SUFFIXES))}) in this folder")
            out += [Record(id=f.relative_to(p).with_suffix("").as_posix(), path=f, label="",
                           patient=f.relative_to(p).with_suffix("").as_posix()) for f in files]
        else:
            out.append(Record(id=str(p), path=p, label="", patient=str(p)))
    seen: set[str] = set()
    for r in out:
        if r.id in seen:
            raise ConfigError(f"{r.path}: image id {r.id!r} given twice")
        seen.add(r.id)
    return out


# -- the two kinds of bundle ----------------------------------------------------------------------------
class _WholeImageScorer:
    """Preprocess on the decode thread; backbone in batches on the features engine; head on the batch."""

    def __init__(self, predictor, *, runtime: str, cache_dir, threads: int | None):
        from ..features import load_engine

        predictor.check_backbone()
        b = predictor.manifest["backbone"]
        self.cfg = predictor.preprocess_config
        self.tta = bool(b.get("tta", False))
        self.engine = load_engine(b["name"], b.get("weights"), self.cfg.size, runtime, cache_dir=cache_dir,
                                  threads=threads)
        self.predictor = predictor

    def load(self, path: Path):
        from ..io import read_image
        from ..preprocess import preprocess

        pre = preprocess(read_image(path), self.cfg)
        return pre.tensor, pre.mask_fraction

    def score(self, loaded: list, sources: list[str]) -> list[Prediction]:
        from ..features import feature_maps

        batch = np.stack([t for t, _ in loaded])
        feats = feature_maps(self.engine, batch, self.tta).mean(axis=(2, 3)).astype(np.float32)
        return self.predictor.predictions_from_features(feats, [f for _, f in loaded], sources)


class _LesionScorer:
    """The lesion bundle: decode on the helper thread, then its own multi-scale maps image by image."""

    def __init__(self, predictor):
        self.predictor = predictor

    def load(self, path: Path):
        from ..io import read_image

        return read_image(path)

    def score(self, loaded: list, sources: list[str]) -> list[Prediction]:
        preds = []
        for image, source in zip(loaded, sources):
            pred = self.predictor.predict(image, heatmap=False)
            pred.source = source
            preds.append(pred)
        return preds


# -- rows -----------------------------------------------------------------------------------------------
def _fmt(x) -> str:
    if x is None:
        return ""
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, float):
        return repr(x) if np.isfinite(x) else ""
    return str(x)


def _record_fields(r: Record) -> dict:
    return {"id": r.id, "path": str(r.path), "patient": r.patient, "study": r.study or "",
            "breast": r.breast if r.laterality else "", "laterality": r.laterality or "", "view": r.view or ""}


def _prediction_row(pred: Prediction, a: BiradsAssessment) -> dict:
    row = {"label": pred.label, "p_malignant_max": pred.p_malignant, "p_malignant_deployment": a.p_malignant_deployment,
           "birads": a.category, "birads_description": a.description, "birads_withheld": a.withheld,
           "in_distribution": pred.in_distribution, "notes": "; ".join(pred.notes)}
    row.update({f"p_{c}": p for c, p in pred.probabilities.items()})
    return row


def _breast_rows(image_rows: list[dict], classes: tuple[str, ...], evidence: ModelEvidence,
                 prevalence: float) -> list[dict]:
    """One row per breast (images with a known side, no error): the mean of its views' calibrated
    probabilities (still a distribution), the largest P(malignant) of any view, and the BI-RADS assessment
    of the mean. Assessable only when every view is in distribution."""
    groups: dict[str, list[dict]] = {}
    for row in image_rows:
        if row.get("breast") and not row.get("error"):
            groups.setdefault(row["breast"], []).append(row)
    out = []
    for key in sorted(groups):
        rows = groups[key]
        P = np.array([[float(r[f"p_{c}"]) for c in classes] for r in rows])
        mean = P.mean(axis=0)
        probs = {c: float(p) for c, p in zip(classes, mean)}
        in_dist = all(r["in_distribution"] in (True, "true") for r in rows)
        n_out = sum(r["in_distribution"] not in (True, "true") for r in rows)
        notes = [] if in_dist else [f"{n_out} of {len(rows)} views out of distribution"]
        pred = Prediction(label=classes[int(np.argmax(mean))], classes=classes, probabilities=probs,
                          p_malignant=probs.get(MALIGNANT), view=None, heatmap=None, in_distribution=in_dist,
                          notes=notes)
        row = {"level": "breast", "id": key, "patient": rows[0]["patient"], "study": rows[0]["study"],
               "breast": key, "laterality": rows[0]["laterality"],
               "view": "+".join(sorted({r["view"] for r in rows if r["view"]})), "images": len(rows),
               **_prediction_row(pred, assessment_of(pred, evidence, prevalence))}
        if MALIGNANT in classes:
            row["p_malignant_max"] = float(P[:, classes.index(MALIGNANT)].max())
        out.append(row)
    return out


# -- the run --------------------------------------------------------------------------------------------
@dataclass
class BatchSummary:
    out: Path
    images: int
    computed: int
    resumed: int  # image rows kept from an earlier, interrupted run
    breasts: int
    seconds: float
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)

    @property
    def images_per_s(self) -> float:
        return self.computed / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict:
        return {"out": str(self.out), "images": self.images, "computed": self.computed, "resumed": self.resumed,
                "breasts": self.breasts, "seconds": round(self.seconds, 3),
                "images_per_s": round(self.images_per_s, 2), "failed": [list(f) for f in self.failed]}


def _run_settings(predictor, prevalence: float) -> dict:
    manifest = getattr(predictor, "manifest", {}) or {}
    digest = hashlib.sha256(strict_dumps(manifest, sort_keys=True).encode()).hexdigest()[:16]
    return {"format": BATCH_FORMAT, "bundle": str(getattr(predictor, "path", "")), "manifest_sha256": digest,
            "prevalence": float(prevalence)}


def _read_done(out: Path, columns: list[str]) -> list[dict]:
    """Image rows of an earlier run of the same settings, without error; a half-written last line is dropped."""
    text = out.read_text(encoding="utf-8")
    if text and not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]
    reader = csv.DictReader(text.splitlines())
    if reader.fieldnames is not None and list(reader.fieldnames) != columns:
        raise ConfigError(f"{out}: its columns differ from this model's; write to another --out or use --restart")
    return [r for r in reader if r.get("level") == "image" and not r.get("error")]


# -- output formats -------------------------------------------------------------------------------------
OUTPUT_FORMATS = {".csv": "csv", ".parquet": "parquet"}


def output_format(out: Path) -> str:
    """``csv`` or ``parquet`` from the suffix of ``out``; another suffix is a one-line error."""
    fmt = OUTPUT_FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise ConfigError(f"{out}: unknown output format {out.suffix or '(no suffix)'!r}; "
                          f"give a .csv or .parquet path")
    return fmt


def _journal(out: Path) -> Path:
    """Where a Parquet run keeps its rows (the CSV format) until every image is done."""
    return out.with_name(out.name + ".journal.csv")


def _column_type(name: str):
    import pyarrow as pa

    if name.startswith("p_"):
        return pa.float64()
    if name == "images":
        return pa.int64()
    if name == "in_distribution":
        return pa.bool_()
    return pa.string()


def _parse_cell(text: str, kind) -> object:
    """One CSV cell as the Parquet column's type (the inverse of ``_fmt``)."""
    import pyarrow as pa

    if kind == pa.string():
        return text
    if text == "":
        return None
    if kind == pa.float64():
        return float(text)
    if kind == pa.int64():
        return int(text)
    if text not in ("true", "false"):
        raise ValueError(f"not true/false: {text!r}")
    return text == "true"


def _write_parquet(journal: Path, out: Path, columns: list[str], settings: dict) -> None:
    """The journal's rows (image rows then breast rows, as in the CSV), typed, to ``out`` atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    with journal.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    types = {c: _column_type(c) for c in columns}
    arrays = []
    for c in columns:
        try:
            arrays.append(pa.array([_parse_cell(r[c] or "", types[c]) for r in rows], type=types[c]))
        except ValueError as exc:
            raise MammokitError(f"{journal}: column {c!r}: {exc}") from None
    schema = pa.schema([pa.field(c, types[c]) for c in columns], metadata={"mammokit.run": strict_dumps(settings)})
    tmp = out.with_name(out.name + ".tmp")
    pq.write_table(pa.Table.from_arrays(arrays, schema=schema), tmp)
    os.replace(tmp, out)


def read_parquet_rows(path: str | Path) -> tuple[list[str], list[dict]]:
    """A batch Parquet file's columns and rows, each cell as the CSV writes it (``_fmt``)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise ConfigError(f"{path}: cannot be read as Parquet ({' '.join(str(exc).split())[:200]}); "
                          f"write to another --out or use --restart") from None
    return table.column_names, [{k: _fmt(v) for k, v in r.items()} for r in table.to_pylist()]


def _read_done_parquet(out: Path, columns: list[str]) -> list[dict]:
    names, rows = read_parquet_rows(out)
    if names != columns:
        raise ConfigError(f"{out}: its columns differ from this model's; write to another --out or use --restart")
    return [r for r in rows if r.get("level") == "image" and not r.get("error")]


def predict_records(predictor, records: Sequence[Record], out: str | Path, *,
                    prevalence: float = DEFAULT_DEPLOYMENT_PREVALENCE, batch_size: int | None = None,
                    threads: int | None = None, runtime: str | None = None, cache_dir: str | Path | None = None,
                    decode_thread: bool = True, restart: bool = False, progress: bool = True,
                    on_error: Callable[[str, str], None] | None = None, engine: str = "local",
                    address: str | None = None, actors: int | None = None) -> BatchSummary:
    """Predict every record with a loaded bundle and write ``out`` (CSV or Parquet, by its suffix): image
    rows, then breast rows.

    Returns what was done; unreadable images get an image row with ``error`` set (and ``on_error(path,
    reason)`` is called), and the run goes on. ``engine="ray"`` computes the whole-image bundle's features on
    a Ray cluster (features/_ray.py; ``address``, ``actors``) and the head here, with the same rows."""
    from ..features._defaults import DEFAULT_BATCH_SIZE, DEFAULT_RUNTIME
    from ._load import evidence_of

    out = Path(out)
    lesion = getattr(predictor, "manifest", {}).get("model_type") == "lesion"
    if engine not in ("local", "ray"):
        raise ConfigError(f"engine {engine!r} is not one of local, ray")
    if engine == "ray" and lesion:
        raise ConfigError("--engine ray runs whole-image bundles; the lesion bundle runs with the local engine")
    fmt = output_format(out)
    table = out if fmt == "csv" else _journal(out)  # the CSV rows are written here, batch by batch
    evidence = evidence_of(predictor)
    classes = tuple(predictor.classes)
    columns = [*_FIXED_COLUMNS, *(f"p_{c}" for c in classes), *_TAIL_COLUMNS]
    sidecar = out.with_name(out.name + ".run.json")
    settings = _run_settings(predictor, prevalence)
    done: list[dict] = []
    if (out.exists() or table.exists()) and not restart:
        try:
            earlier = json.loads(sidecar.read_text())
        except (OSError, ValueError):
            earlier = None
        if earlier != settings:
            raise ConfigError(f"{out}: exists and was not written by this model and prevalence "
                              f"({sidecar.name} differs or is missing); write to another --out or use --restart")
        wanted = {r.id for r in records}
        earlier_rows = _read_done(table, columns) if table.exists() else _read_done_parquet(out, columns)
        done = [r for r in earlier_rows if r["id"] in wanted]
    out.parent.mkdir(parents=True, exist_ok=True)
    sidecar.write_text(strict_dumps(settings, allow_nan=False, indent=1) + "\n")
    # Start the file again with only the finished image rows (drops breast rows, failures, a torn line).
    tmp = table.with_name(table.name + ".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=columns)
        w.writeheader()
        w.writerows(done)
    os.replace(tmp, table)

    finished = {r["id"] for r in done}
    todo = [r for r in records if r.id not in finished]
    image_rows: list[dict] = list(done)
    failed: list[tuple[str, str]] = []
    batch_size = max(1, int(batch_size or DEFAULT_BATCH_SIZE))
    t0 = time.perf_counter()
    if todo and engine == "ray":
        image_rows += _score_all_ray(predictor, todo, table, columns, evidence, prevalence, batch_size, progress,
                                     failed, on_error, runtime or DEFAULT_RUNTIME, cache_dir, threads, address, actors)
    elif todo:
        if lesion:
            scorer = _LesionScorer(predictor)
        else:
            scorer = _WholeImageScorer(predictor, runtime=runtime or DEFAULT_RUNTIME, cache_dir=cache_dir,
                                       threads=threads)
        image_rows += _score_all(scorer, todo, table, columns, evidence, prevalence, batch_size, decode_thread,
                                 progress, failed, on_error)
    seconds = time.perf_counter() - t0
    breasts = _breast_rows(image_rows, classes, evidence, prevalence)
    with table.open("a", newline="", encoding="utf-8") as fh:
        csv.DictWriter(fh, fieldnames=columns).writerows({k: _fmt(v) for k, v in r.items()} for r in breasts)
    if fmt == "parquet":
        _write_parquet(table, out, columns, settings)
        table.unlink()
    return BatchSummary(out=out, images=len(records), computed=len(todo), resumed=len(done), breasts=len(breasts),
                        seconds=seconds, failed=failed)


def _score_all(scorer, todo: list[Record], out: Path, columns: list[str], evidence: ModelEvidence,
               prevalence: float, batch_size: int, decode_thread: bool, progress: bool,
               failed: list[tuple[str, str]], on_error) -> list[dict]:
    from ..features._prefetch import prefetched

    def load(r: Record):
        try:
            return scorer.load(Path(r.path))
        except MammokitError as exc:  # an unreadable image is a row with its reason, not the end of the run
            return exc
        except Exception as exc:  # noqa: BLE001 - a library error on one odd image must not end a 50k run
            return MammokitError(f"{r.path}: cannot preprocess ({type(exc).__name__}: {exc})".splitlines()[0])

    rows: list[dict] = []
    loaded = prefetched(load, todo, ahead=2 * batch_size, thread=decode_thread)
    bar = tqdm(total=len(todo), desc="predict", unit="img", disable=not progress)
    with out.open("a", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=columns)
        for start in range(0, len(todo), batch_size):
            chunk = todo[start : start + batch_size]
            items = [next(loaded) for _ in chunk]
            ok = [i for i, x in enumerate(items) if not isinstance(x, Exception)]
            preds = scorer.score([items[i] for i in ok], [str(chunk[i].path) for i in ok]) if ok else []
            by_index = dict(zip(ok, preds))
            batch_rows = [_image_row(r, by_index.get(i), str(items[i]), evidence, prevalence, failed, on_error)
                          for i, r in enumerate(chunk)]
            w.writerows(batch_rows)
            fh.flush()  # what is in the file is finished: a later run resumes after it
            rows += batch_rows
            bar.update(len(chunk))
    loaded.close()
    bar.close()
    return rows


def _image_row(r: Record, pred: Prediction | None, reason: str, evidence: ModelEvidence, prevalence: float,
               failed: list, on_error) -> dict:
    """The CSV row of one image: its prediction, or the reason it could not be read."""
    row = {"level": "image", "images": 1, **_record_fields(r)}
    if pred is not None:
        row.update(_prediction_row(pred, assessment_of(pred, evidence, prevalence)))
    else:
        row["error"] = reason
        failed.append((str(r.path), reason))
        if on_error:
            on_error(str(r.path), reason)
    return {k: _fmt(v) for k, v in row.items()}


def _score_all_ray(predictor, todo: list[Record], out: Path, columns: list[str], evidence: ModelEvidence,
                   prevalence: float, batch_size: int, progress: bool, failed: list, on_error, runtime: str,
                   cache_dir, threads: int | None, address: str | None, actors: int | None) -> list[dict]:
    """Features on Ray (in whatever order the actors finish), head and rows here, flushed every batch."""
    from ..constants import DEFAULT_CACHE_DIR
    from ..features._ray import RayJob, ray_features

    predictor.check_backbone()
    b = predictor.manifest["backbone"]
    cfg = predictor.preprocess_config
    job = RayJob(b["name"], b.get("weights"), cfg.as_dict(), bool(b.get("tta", False)), False, runtime,
                 str(cache_dir or DEFAULT_CACHE_DIR), int(threads) if threads else 1)
    rows: list[dict] = []
    pending: list = []
    bar = tqdm(total=len(todo), desc="predict (ray)", unit="img", disable=not progress)
    with out.open("a", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=columns)

        def flush():
            ok = [x for x in pending if not x.error]
            preds = predictor.predictions_from_features(
                np.stack([x.feature for x in ok]), [x.mask_fraction for x in ok],
                [str(todo[x.i].path) for x in ok]) if ok else []
            by_i = {x.i: p for x, p in zip(ok, preds)}
            batch_rows = [_image_row(todo[x.i], by_i.get(x.i), x.error, evidence, prevalence, failed, on_error)
                          for x in pending]
            w.writerows(batch_rows)
            fh.flush()
            rows.extend(batch_rows)
            bar.update(len(pending))
            pending.clear()

        for res in ray_features(list(enumerate(r.path for r in todo)), job, address=address, actors=actors,
                                batch_size=batch_size):
            pending.append(res)
            if len(pending) >= batch_size:
                flush()
        if pending:
            flush()
    bar.close()
    return rows
