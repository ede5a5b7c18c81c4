"""Batch prediction to Parquet (`mammokit predict --out preds.parquet`) on real MIAS images with a real small
bundle: the same rows, columns and values as the CSV (typed), resume after a real interruption computes only
the missing images, and an unknown --out suffix is a one-line error."""
from __future__ import annotations

import csv
import dataclasses
import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mammokit.bundle import load_bundle, predict_records
from mammokit.cli import main
from mammokit.datasets import load_dataset
from mammokit.errors import ConfigError
from test_batch_predict import _bundle

IDS = ["mdb001", "mdb002", "mdb003", "mdb004", "mdb005", "mdb006", "mdb007"]  # 4 women: 7 breasts


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("parquet")
    cache = tmp / "cache"
    bundle = _bundle(tmp / "earned", cache, True)  # earned: the BI-RADS columns hold categories
    # MIAS gives the side only in Info.txt's notes; set it so the images also make breast rows
    records = [dataclasses.replace(r, laterality=r.extra["info_txt_laterality"])
               for r in load_dataset("mias") if r.id in IDS]
    garbage = tmp / "garbage.png"
    garbage.write_bytes(b"not a picture at all")
    bad = dataclasses.replace(records[0], id="garbage", path=garbage, patient="mias-p099")
    records = [*records[:4], bad, *records[4:]]  # an unreadable image in the middle: an error row
    return {"bundle": bundle, "cache": cache, "records": records, "predictor": load_bundle(bundle)}


def _csv(path):
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        return reader.fieldnames, list(reader)


def _typed(text: str, kind):
    """A CSV cell as the Parquet column should hold it (independent of the writer's own parser)."""
    if kind == pa.string():
        return text
    if text == "":
        return None
    if kind == pa.float64():
        return float(text)
    if kind == pa.int64():
        return int(text)
    assert kind == pa.bool_() and text in ("true", "false")
    return text == "true"


def _run(setup, records, out, **kw):
    return predict_records(setup["predictor"], records, out, cache_dir=setup["cache"], batch_size=2, progress=False,
                           **kw)


def _assert_same_table(parquet_path, csv_path):
    header, rows = _csv(csv_path)
    table = pq.read_table(parquet_path)
    assert table.column_names == header
    types = dict(zip(table.schema.names, table.schema.types))
    for name in header:  # typed columns: probabilities float, counts int, flags bool
        want = (pa.float64() if name.startswith("p_") else pa.int64() if name == "images"
                else pa.bool_() if name == "in_distribution" else pa.string())
        assert types[name] == want, name
    got = table.to_pylist()
    assert len(got) == len(rows)
    for g, r in zip(got, rows):  # same rows in the same order, cell by cell
        assert g == {k: _typed(v, types[k]) for k, v in r.items()}


def test_parquet_has_the_csv_rows_columns_and_values(setup, tmp_path):
    records = setup["records"]
    s_csv = _run(setup, records, tmp_path / "preds.csv")
    s_pq = _run(setup, records, tmp_path / "preds.parquet")
    assert (s_pq.computed, s_pq.breasts, len(s_pq.failed)) == (s_csv.computed, s_csv.breasts, 1) == (8, 7, 1)
    _assert_same_table(tmp_path / "preds.parquet", tmp_path / "preds.csv")
    rows = pq.read_table(tmp_path / "preds.parquet").to_pylist()
    assert [r["level"] for r in rows] == ["image"] * 8 + ["breast"] * 7
    assert {r["id"] for r in rows if r["level"] == "breast"} == {r.breast for r in records if r.id != "garbage"}
    assert sum(r["images"] for r in rows if r["level"] == "breast") == 7
    bad = next(r for r in rows if r["id"] == "garbage")
    assert "not an image" in bad["error"] and bad["p_malignant"] is None and bad["in_distribution"] is None
    assert any(r["birads"] for r in rows)  # the earned bundle's categories came through as strings
    assert not (tmp_path / "preds.parquet.journal.csv").exists()  # the journal is gone once the file is written
    assert not (tmp_path / "preds.parquet.tmp").exists()


def test_parquet_resumes_after_a_real_interruption(setup, tmp_path):
    records = setup["records"]
    ref = tmp_path / "ref.csv"
    _run(setup, records, ref)
    out = tmp_path / "preds.parquet"
    journal = tmp_path / "preds.parquet.journal.csv"

    def stop(path, reason):  # the run is killed when it meets the 5th image (after two batches of 2)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _run(setup, records, out, on_error=stop)
    assert not out.exists() and journal.exists()  # nothing half-written where the Parquet file belongs
    _, partial = _csv(journal)
    assert [r["id"] for r in partial] == [r.id for r in records[:4]]
    journal.write_text(journal.read_text() + "image,mdb006,/half/writ")  # and a torn last line

    s = _run(setup, records, out)
    assert (s.resumed, s.computed) == (4, 4)  # only the missing images (and the unreadable one) are computed
    assert not journal.exists()
    _assert_same_table(out, ref)  # the same rows as an uninterrupted run: no duplicate, no torn row

    # A finished file: a re-run computes only the failure; added images are computed, the rest read back.
    again = _run(setup, records, out)
    assert (again.resumed, again.computed) == (7, 1)
    more = [r for r in load_dataset("mias") if r.id == "mdb008"]
    grown = _run(setup, [*records, *more], out)
    assert (grown.resumed, grown.computed) == (7, 2)
    ids = [r["id"] for r in pq.read_table(out).to_pylist() if r["level"] == "image"]
    assert sorted(ids) == sorted([r.id for r in records] + ["mdb008"])
    with pytest.raises(ConfigError, match="restart"):  # other settings refuse to resume from the file
        _run(setup, records, out, prevalence=0.2)


def test_unknown_out_suffix_is_a_one_line_error(setup, tmp_path, capsys):
    with pytest.raises(ConfigError, match=r"preds\.xlsx: unknown output format '\.xlsx'; give a \.csv or \.parquet"):
        _run(setup, setup["records"][:1], tmp_path / "preds.xlsx")
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(setup["records"][0].path, folder / "a.png")
    with pytest.raises(SystemExit) as exc:
        main(["predict", str(folder), "--model", str(setup["bundle"]), "--out", str(tmp_path / "p.json")])
    assert exc.value.code != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"mammokit: error: {tmp_path / 'p.json'}: unknown output format '.json'; give a .csv or .parquet path"]
    assert not (tmp_path / "p.json").exists()
    # the same command with a .parquet path writes the Parquet file (and no journal is left)
    with pytest.raises(SystemExit) as exc:
        main(["predict", str(folder), "--model", str(setup["bundle"]), "--out", str(tmp_path / "p.parquet"),
              "--cache", str(setup["cache"])])
    assert exc.value.code == 0
    rows = pq.read_table(tmp_path / "p.parquet").to_pylist()
    assert [(r["level"], r["id"]) for r in rows] == [("image", "a")] and rows[0]["p_malignant"] is not None
    assert not (tmp_path / "p.parquet.journal.csv").exists()
