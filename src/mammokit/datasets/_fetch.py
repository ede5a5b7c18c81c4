"""Get mini-MIAS into a folder, verified against the MD5 list of the 322 original PGM files.

Sources: the official archive (downloaded), a URL, a local .tar/.tar.gz/.zip, or a folder in
either layout (original PGMs beside Info.txt, or lossless PNG copies in images/). PNG copies are
verified too: the P5 header ``P5\\n1024 1024\\n255\\n`` followed by their decoded pixels gives
back exactly the original PGM bytes, so the same MD5 list applies.

Everything is staged in a temporary folder next to ``dest`` and only renamed into place once
every image has passed, so a failed or tampered fetch never touches data already there.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
from PIL import Image as PILImage

from ..errors import DatasetError
from ._mias import MIAS_INFO_FILE, MIAS_N_IMAGES, MIAS_SIZE, find_mias_image, parse_mias_info

# The official mini-MIAS archive on the PEIPA server (University of Essex).
MIAS_URL = "http://peipa.essex.ac.uk/pix/mias/all-mias.tar.gz"
MIAS_URL_ENV = "MAMMOKIT_MIAS_URL"  # a mirror (or file:// URL) used instead of MIAS_URL
MIAS_MD5_RESOURCE = "mias-pgm-md5sums.txt"  # copy of MD5SUMS-pgm, shipped in datasets/data/
PGM_HEADER = b"P5\n%d %d\n255\n" % (MIAS_SIZE, MIAS_SIZE)
MAX_EXTRACT_BYTES = 2 * 1024**3  # the full PGM set is ~340 MB; refuse archives that unpack far larger
DOWNLOAD_TIMEOUT_S = 30
_WANTED = re.compile(r"^(mdb\d{3}\.(pgm|png)|info\.txt|licence\.txt|license\.txt)$", re.IGNORECASE)

Reporter = Callable[[str], None]


@lru_cache(maxsize=1)
def official_md5s() -> dict[str, str]:
    """refnum (``mdb001``) -> MD5 of the original PGM file, from the shipped list."""
    text = resources.files("mammokit.datasets").joinpath("data", MIAS_MD5_RESOURCE).read_text()
    out = {}
    for line in text.splitlines():
        if line.strip():
            digest, name = line.split()
            out[Path(name).stem] = digest.lower()
    return out


def mias_image_md5(path: Path) -> str:
    """MD5 of the original PGM this file holds: file bytes for .pgm, rebuilt P5 bytes for .png."""
    if path.suffix.lower() == ".pgm":
        h = hashlib.md5()
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        return h.hexdigest()
    try:
        with PILImage.open(path) as im:
            if im.mode != "L" or im.size != (MIAS_SIZE, MIAS_SIZE):
                raise DatasetError(f"{path}: {im.mode} {im.size[0]}x{im.size[1]}, expected 8-bit grey "
                                   f"{MIAS_SIZE}x{MIAS_SIZE} like mini-MIAS")
            pixels = np.asarray(im, dtype=np.uint8)
    except (OSError, SyntaxError, ValueError) as exc:
        raise DatasetError(f"{path}: not a readable PNG ({exc})") from None
    return hashlib.md5(PGM_HEADER + pixels.tobytes()).hexdigest()


def fetch_mias(dest: str | Path, source: str | Path | None = None, *, report: Reporter | None = None) -> Path:
    """Put a verified mini-MIAS copy in ``dest`` (Info.txt, Licence.txt, images/mdbNNN.png|pgm).

    ``source``: None (download the official archive, or $MAMMOKIT_MIAS_URL), a URL, a local
    archive or a folder. Every image listed in the source's Info.txt must be present and match
    the official MD5 list; a subset Info.txt gives a subset copy. ``report`` gets one-line
    progress messages. Returns ``dest``.
    """
    say = report or (lambda _msg: None)
    dest = Path(dest).expanduser().absolute()
    _check_dest(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{dest.name}.fetch-", dir=dest.parent))
    try:
        src_root = _materialise(source, work, say)
        stage = work / "stage"
        _stage_and_verify(src_root, stage, say, move=src_root.is_relative_to(work))
        _swap_into_place(stage, dest, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    say(f"mini-MIAS ready in {dest} (research use only: read its Licence.txt and cite the database)")
    return dest


def _check_dest(dest: Path) -> None:
    if dest.exists() and not dest.is_dir():
        raise DatasetError(f"{dest}: exists and is not a folder")
    if dest.is_dir() and any(dest.iterdir()) and not (dest / MIAS_INFO_FILE).is_file():
        raise DatasetError(f"{dest}: folder is not empty and holds no mini-MIAS Info.txt; refusing to replace it")


def _materialise(source: str | Path | None, work: Path, say: Reporter) -> Path:
    """A local folder holding Info.txt and the images, downloading/unpacking as needed."""
    if source is None:
        source = os.environ.get(MIAS_URL_ENV) or MIAS_URL
    text = str(source)
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", text):
        archive = _download(text, work, say)
        return _info_root(_extract(archive, work / "unpacked", say), shown=text)
    path = Path(text).expanduser()
    if path.is_dir():
        return _info_root(path, shown=str(path))
    if path.is_file():
        return _info_root(_extract(path, work / "unpacked", say), shown=str(path))
    raise DatasetError(f"{path}: not found (give a mini-MIAS folder, a .tar/.tar.gz/.zip archive or a URL)")


def _download(url: str, work: Path, say: Reporter) -> Path:
    target = work / "download"
    say(f"downloading {url}")
    hint = ("download all-mias.tar.gz by hand and run "
            "`mammokit data fetch mias --from all-mias.tar.gz --dest DIR`")
    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as resp, target.open("wb") as out:
            size = 0
            while chunk := resp.read(1 << 20):
                size += len(chunk)
                if size > MAX_EXTRACT_BYTES:
                    raise DatasetError(f"{url}: download larger than {MAX_EXTRACT_BYTES >> 20} MB; not mini-MIAS")
                out.write(chunk)
    except urllib.error.URLError as exc:
        raise DatasetError(f"could not download {url} ({exc.reason}); {hint}") from None
    except (OSError, ValueError) as exc:  # timeouts, refused connections, malformed URLs
        raise DatasetError(f"could not download {url} ({exc}); {hint}") from None
    say(f"downloaded {size / 1e6:.1f} MB")
    return target


def _extract(archive: Path, out: Path, say: Reporter) -> Path:
    """Unpack only the files mini-MIAS needs, refusing path tricks and oversized archives."""
    out.mkdir(parents=True, exist_ok=True)
    try:
        if tarfile.is_tarfile(archive):
            with tarfile.open(archive) as tf:
                members = [m for m in tf.getmembers() if m.isfile() and _WANTED.match(Path(m.name).name)]
                _check_size(archive, sum(m.size for m in members))
                tf.extractall(out, members=members, filter="data")
        elif zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                members = [m for m in zf.infolist() if not m.is_dir() and _WANTED.match(Path(m.filename).name)]
                _check_size(archive, sum(m.file_size for m in members))
                root = out.resolve()
                for m in members:
                    if not (out / m.filename).resolve().is_relative_to(root):
                        raise DatasetError(f"{archive}: member {m.filename!r} points outside the archive folder")
                    zf.extract(m, out)
        else:
            raise DatasetError(f"{archive}: not a folder, a tar (.tar, .tar.gz) or a zip archive")
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as exc:
        raise DatasetError(f"{archive}: corrupt or unreadable archive ({exc})") from None
    say(f"unpacked {len(members)} file(s) from {archive.name}")
    return out


def _check_size(archive: Path, total: int) -> None:
    if total > MAX_EXTRACT_BYTES:
        raise DatasetError(f"{archive}: unpacks to {total >> 20} MB, far more than mini-MIAS; refusing")


def _info_root(folder: Path, *, shown: str) -> Path:
    """The folder holding Info.txt: ``folder`` itself or its shallowest sub-folder that has one."""
    if (folder / MIAS_INFO_FILE).is_file():
        return folder
    found = sorted(
        (p for p in folder.rglob("*") if p.is_file() and p.name.lower() == MIAS_INFO_FILE.lower()),
        key=lambda p: len(p.parts),
    )
    if not found:
        raise DatasetError(f"{shown}: no {MIAS_INFO_FILE} found; is this mini-MIAS?")
    if len(found) > 1 and len(found[0].parts) == len(found[1].parts):
        raise DatasetError(f"{shown}: several {MIAS_INFO_FILE} files ({found[0]}, {found[1]}); give one folder")
    return found[0].parent


def _stage_and_verify(src: Path, stage: Path, say: Reporter, *, move: bool) -> None:
    info = src / MIAS_INFO_FILE if (src / MIAS_INFO_FILE).is_file() else next(
        p for p in src.iterdir() if p.name.lower() == MIAS_INFO_FILE.lower()
    )
    rows = parse_mias_info(info)  # a malformed Info.txt fails here, before anything is copied
    refnums = list(dict.fromkeys(r.refnum for r in rows))
    md5s = official_md5s()
    unknown = [r for r in refnums if r not in md5s]
    if unknown:
        raise DatasetError(f"{info}: {', '.join(unknown[:5])} not in the official mini-MIAS list")
    sources = {r: find_mias_image(src, r) for r in refnums}
    missing = [r for r, p in sources.items() if p is None]
    if missing:
        raise DatasetError(
            f"{src}: {len(missing)} of {len(refnums)} images listed in Info.txt are missing "
            f"(e.g. {', '.join(missing[:5])}; looked for images/mdbNNN.png and mdbNNN.pgm)"
        )
    (stage / "images").mkdir(parents=True)
    shutil.copyfile(info, stage / MIAS_INFO_FILE)
    for lic in src.iterdir():
        if lic.name.lower() in ("licence.txt", "license.txt") and lic.is_file():
            shutil.copyfile(lic, stage / lic.name)
    bad: list[str] = []
    for ref, path in sources.items():
        assert path is not None
        target = stage / "images" / f"{ref}{path.suffix.lower()}"
        (shutil.move if move else shutil.copyfile)(path, target)
        try:
            ok = mias_image_md5(target) == md5s[ref]
            reason = "content does not match the official mini-MIAS MD5 (tampered or corrupt)"
        except DatasetError as exc:
            ok, reason = False, str(exc).split(": ", 1)[-1]
        if not ok:
            bad.append(f"{path}: {reason}")
    if bad:
        more = f" (and {len(bad) - 3} more)" if len(bad) > 3 else ""
        raise DatasetError(f"{len(bad)} image(s) failed verification: " + "; ".join(bad[:3]) + more)
    kinds = {s: sum(1 for p in sources.values() if p is not None and p.suffix.lower() == s) for s in (".pgm", ".png")}
    scope = "all" if len(refnums) == MIAS_N_IMAGES else f"a subset: {len(refnums)} of {MIAS_N_IMAGES}"
    say(f"verified {len(refnums)} images ({kinds['.pgm']} PGM, {kinds['.png']} PNG) against the official "
        f"MD5 list; {len(rows)} Info.txt rows ({scope})")


def _swap_into_place(stage: Path, dest: Path, work: Path) -> None:
    """Rename the verified stage to ``dest``; an earlier copy is kept aside until that succeeds."""
    if not dest.exists():
        os.rename(stage, dest)
        return
    previous = work / "previous"
    os.rename(dest, previous)
    try:
        os.rename(stage, dest)
    except OSError:
        os.rename(previous, dest)
        raise
