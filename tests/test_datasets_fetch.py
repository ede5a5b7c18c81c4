"""fetch_mias and the `mammokit data` CLI, from the real ../shared copy and archives built here."""
from __future__ import annotations

import hashlib
import io
import re
import shutil
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mammokit.cli import main
from mammokit.constants import default_mias_dir
from mammokit.datasets import fetch_mias, load_mias, mias_image_md5, official_md5s
from mammokit.errors import DatasetError

MIAS = default_mias_dir()
SUBSET = [f"mdb{i:03d}" for i in range(1, 7)]  # the six images that also exist as original PGMs


@pytest.fixture(scope="module")
def mias_dir() -> Path:
    assert MIAS is not None, "mini-MIAS not found: expected ../shared/data/mini-mias or $MAMMOKIT_MIAS"
    return MIAS


def _subset_info(mias_dir: Path, ids: list[str]) -> str:
    """The real Info.txt with the truth table cut down to ``ids`` (header text kept)."""
    keep = []
    for line in (mias_dir / "Info.txt").read_text().splitlines():
        m = re.match(r"^(mdb\d{3})\s", line)
        if m is None or m.group(1) in ids:
            keep.append(line)
    return "\n".join(keep) + "\n"


def _source_tree(root: Path, mias_dir: Path, ids=SUBSET, *, fmt: str = "pgm") -> Path:
    """A source folder in the original layout (PGMs beside Info.txt) or the PNG layout."""
    root.mkdir(parents=True)
    (root / "Info.txt").write_text(_subset_info(mias_dir, ids))
    shutil.copy(mias_dir / "Licence.txt", root / "Licence.txt")
    for ref in ids:
        if fmt == "pgm":
            shutil.copy(mias_dir / "pgm-originals" / f"{ref}.pgm", root / f"{ref}.pgm")
        else:
            (root / "images").mkdir(exist_ok=True)
            shutil.copy(mias_dir / "images" / f"{ref}.png", root / "images" / f"{ref}.png")
    return root


def _targz(folder: Path, out: Path, arcname: str = "all-mias") -> Path:
    with tarfile.open(out, "w:gz") as tf:
        tf.add(folder, arcname=arcname)
    return out


def _snapshot(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.md5(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _no_leftovers(parent: Path) -> bool:
    return not [p for p in parent.iterdir() if ".fetch-" in p.name]


@pytest.fixture(scope="module")
def full_fetch(tmp_path_factory, mias_dir):
    dest = tmp_path_factory.mktemp("full") / "mias"
    messages: list[str] = []
    out = fetch_mias(dest, mias_dir, report=messages.append)
    return out, messages


def test_fetch_full_shared_folder(full_fetch, mias_dir):
    dest, messages = full_fetch
    assert sorted(p.name for p in dest.iterdir()) == ["Info.txt", "Licence.txt", "images"]
    assert len(list((dest / "images").glob("mdb*.png"))) == 322
    assert any("verified 322 images (0 PGM, 322 PNG)" in m and "(all)" in m for m in messages)
    fetched, shared = load_mias(dest), load_mias(mias_dir)
    assert [(r.id, r.label, r.patient, r.lesions) for r in fetched] == \
        [(r.id, r.label, r.patient, r.lesions) for r in shared]
    assert _no_leftovers(dest.parent)


def test_png_copies_match_the_official_pgm_md5s(mias_dir):
    # The PNG check rebuilds "P5\n1024 1024\n255\n" + pixels: for the six originals both agree.
    md5s = official_md5s()
    assert len(md5s) == 322
    for ref in SUBSET:
        png = mias_image_md5(mias_dir / "images" / f"{ref}.png")
        pgm = mias_image_md5(mias_dir / "pgm-originals" / f"{ref}.pgm")
        assert png == pgm == md5s[ref]


def test_fetch_targz_subset_of_original_pgms(tmp_path, mias_dir):
    archive = _targz(_source_tree(tmp_path / "src", mias_dir), tmp_path / "all-mias.tar.gz")
    messages: list[str] = []
    dest = fetch_mias(tmp_path / "data" / "mias", archive, report=messages.append)
    assert sorted(p.name for p in (dest / "images").iterdir()) == [f"{r}.pgm" for r in SUBSET]
    assert any("a subset: 6 of 322" in m for m in messages)
    assert [(r.id, r.label) for r in load_mias(dest)] == [(r.id, r.label) for r in load_mias(mias_dir, ids=SUBSET)]
    assert _no_leftovers(dest.parent)


def test_fetch_zip_png_replaces_earlier_copy(tmp_path, mias_dir):
    dest = fetch_mias(tmp_path / "mias", _source_tree(tmp_path / "pgm", mias_dir))
    src = _source_tree(tmp_path / "png", mias_dir, SUBSET[:4], fmt="png")
    archive = tmp_path / "mias.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for p in src.rglob("*"):
            zf.write(p, p.relative_to(src).as_posix())
    fetch_mias(dest, archive)
    assert sorted(p.name for p in (dest / "images").iterdir()) == [f"{r}.png" for r in SUBSET[:4]]
    assert [r.id for r in load_mias(dest)] == SUBSET[:4]


def test_fetch_default_url_from_env_and_file_url(tmp_path, mias_dir, monkeypatch):
    archive = _targz(_source_tree(tmp_path / "src", mias_dir, SUBSET[:2]), tmp_path / "mirror.tar.gz")
    monkeypatch.setenv("MAMMOKIT_MIAS_URL", archive.as_uri())
    messages: list[str] = []
    dest = fetch_mias(tmp_path / "a", report=messages.append)  # source=None -> the (mirror) URL
    assert messages[0] == f"downloading {archive.as_uri()}"
    assert [r.id for r in load_mias(dest)] == SUBSET[:2]
    dest_b = fetch_mias(tmp_path / "b", archive.as_uri())
    assert _snapshot(dest_b) == _snapshot(dest)


@pytest.mark.parametrize("tamper", ["pgm_byte", "png_pixel", "png_rgb"])
def test_tampered_file_rejected_and_dest_kept(tmp_path, mias_dir, tamper):
    dest = fetch_mias(tmp_path / "mias", _source_tree(tmp_path / "good", mias_dir))
    before = _snapshot(dest)
    if tamper == "pgm_byte":
        src = _source_tree(tmp_path / "bad", mias_dir)
        bad = src / "mdb003.pgm"
        data = bytearray(bad.read_bytes())
        data[600_000] ^= 0x01
        bad.write_bytes(bytes(data))
        message = r"1 image\(s\) failed verification: .*bad/mdb003\.pgm: content does not match"
    else:
        src = _source_tree(tmp_path / "bad", mias_dir, fmt="png")
        bad = src / "images" / "mdb003.png"
        px = np.asarray(Image.open(bad)).copy()
        px[500, 500] ^= 1
        img = Image.fromarray(px)
        (img.convert("RGB") if tamper == "png_rgb" else img).save(bad)
        message = (r"bad/images/mdb003\.png: content does not match" if tamper == "png_pixel"
                   else r"bad/images/mdb003\.png: RGB 1024x1024, expected 8-bit grey")
    with pytest.raises(DatasetError, match=message) as exc:
        fetch_mias(dest, src)
    assert "\n" not in str(exc.value)
    assert _snapshot(dest) == before
    assert _no_leftovers(dest.parent)


def _bad_source(tmp_path: Path, mias_dir: Path, case: str) -> Path:
    if case == "missing":
        return tmp_path / "nowhere"
    if case == "not_archive":
        (tmp_path / "notes.txt").write_text("hello")
        return tmp_path / "notes.txt"
    if case == "truncated_targz":
        archive = _targz(_source_tree(tmp_path / "src", mias_dir, SUBSET[:2]), tmp_path / "a.tar.gz")
        archive.write_bytes(archive.read_bytes()[:5000])
        return archive
    if case == "no_info":
        src = _source_tree(tmp_path / "src", mias_dir, SUBSET[:2])
        (src / "Info.txt").unlink()
        return src
    if case == "image_missing":
        src = _source_tree(tmp_path / "src", mias_dir, SUBSET[:3])
        (src / "mdb002.pgm").unlink()
        return src
    if case == "unknown_refnum":
        src = _source_tree(tmp_path / "src", mias_dir, SUBSET[:1])
        with (src / "Info.txt").open("a") as fh:
            fh.write("mdb999 G NORM\n")
        return src
    if case == "traversal":
        archive = tmp_path / "evil.tar"
        with tarfile.open(archive, "w") as tf:
            payload = b"x" * 10
            info = tarfile.TarInfo("../escaped/mdb001.pgm")
            info.size = len(payload)
            tf.addfile(info, io.BytesIO(payload))
        return archive
    if case == "unreachable_url":
        return "http://127.0.0.1:9/all-mias.tar.gz"  # type: ignore[return-value]
    raise AssertionError(case)


@pytest.mark.parametrize("case, message", [
    ("missing", r"nowhere: not found \(give a mini-MIAS folder"),
    ("not_archive", r"notes\.txt: not a folder, a tar"),
    ("truncated_targz", r"a\.tar\.gz: corrupt or unreadable archive"),
    ("no_info", r"src: no Info\.txt found"),
    ("image_missing", r"1 of 3 images listed in Info\.txt are missing \(e\.g\. mdb002"),
    ("unknown_refnum", r"mdb999 not in the official mini-MIAS list"),
    ("traversal", r"evil\.tar: corrupt or unreadable archive"),
    ("unreachable_url", r"could not download http://127\.0\.0\.1:9/all-mias\.tar\.gz .*--from all-mias\.tar\.gz"),
])
def test_fetch_errors(tmp_path, mias_dir, case, message):
    source = _bad_source(tmp_path, mias_dir, case)
    dest = tmp_path / "out" / "mias"
    with pytest.raises(DatasetError, match=message) as exc:
        fetch_mias(dest, source)
    assert "\n" not in str(exc.value)
    assert not dest.exists() and _no_leftovers(dest.parent)
    assert not (tmp_path / "escaped").exists()


def test_fetch_refuses_foreign_dest(tmp_path, mias_dir):
    dest = tmp_path / "home"
    dest.mkdir()
    (dest / "thesis.tex").write_text("precious")
    with pytest.raises(DatasetError, match=r"home: folder is not empty and holds no mini-MIAS Info\.txt"):
        fetch_mias(dest, _source_tree(tmp_path / "src", mias_dir, SUBSET[:1]))
    assert (dest / "thesis.tex").read_text() == "precious"


# --- CLI -------------------------------------------------------------------------------------------

def _cli(args: list[str]) -> int:
    with pytest.raises(SystemExit) as exc:
        main(args)
    return int(exc.value.code or 0)


def test_cli_fetch_and_info(tmp_path, mias_dir, capsys):
    archive = _targz(_source_tree(tmp_path / "src", mias_dir), tmp_path / "all-mias.tar.gz")
    dest = tmp_path / "mias"
    assert _cli(["data", "fetch", "mias", "--dest", str(dest), "--from", str(archive)]) == 0
    out = capsys.readouterr().out
    assert "verified 6 images (6 PGM, 0 PNG)" in out and f"mini-MIAS ready in {dest}" in out
    assert _cli(["data", "info", "--data", str(dest), "--task", "normal_vs_abnormal"]) == 0
    out = capsys.readouterr().out
    # mdb001, 002 (woman 1) and 005 (woman 3) have benign masses; 003, 004 (woman 2) and 006 are normal.
    assert re.search(r"normal\s*│\s*3\s*│\s*2", out) and re.search(r"abnormal\s*│\s*3\s*│\s*2", out)
    assert "6 images from 3 patients" in out


def test_cli_info_default_mias(capsys):
    assert _cli(["data", "info"]) == 0
    out = capsys.readouterr().out
    for cls, n_img, n_pat in [("normal", 207, 154), ("benign", 63, 62), ("malignant", 52, 52), ("total", 322, 161)]:
        assert re.search(rf"{cls}\s*│\s*{n_img}\s*│\s*{n_pat}", out), cls


@pytest.mark.parametrize("args, message", [
    (["data", "info", "--task", "4class"], "unknown task '4class'"),
    (["data", "info", "--dataset", "folder"], "dataset folder needs a path"),
    (["data", "fetch", "ddsm", "--dest", "x"], "cannot fetch 'ddsm'"),
    (["data", "fetch", "mias", "--dest", "{tmp}/d", "--from", "{tmp}/none"], "none: not found"),
])
def test_cli_errors(tmp_path, capsys, args, message):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    assert _cli(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("mammokit: error: ") and message in err and "\n" not in err
