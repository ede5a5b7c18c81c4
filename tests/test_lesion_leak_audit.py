"""The lesion CV's leak check compares the VALUES of training and test images (issue 10): it must report a
leak on a deliberately leaky split, including one the splitter's own index sets cannot show."""
from __future__ import annotations

import numpy as np
import pytest

from mammokit.datasets import load_mias
from mammokit.models.lesion import compute_cell_maps
from mammokit.protocols import leak_audit

IDS = [f"mdb{i:03d}" for i in range(1, 7)]  # three women, both breasts each


@pytest.fixture(scope="module")
def six(mias_dir, tmp_path_factory):
    records = list(load_mias(mias_dir, ids=IDS))
    maps, _ = compute_cell_maps(records, sizes=(128,), cache_dir=tmp_path_factory.mktemp("maps"), progress=False)
    return records, maps, np.asarray([r.patient for r in records])


def test_honest_patient_split_reports_no_leak(six):
    _, maps, groups = six
    assert len(set(groups)) == 3
    splits = [(0, 0, [0, 1, 2, 3], [4, 5]), (0, 1, [2, 3, 4, 5], [0, 1])]
    assert leak_audit(maps, groups, splits) == {"test_images_in_training": 0, "test_patients_in_training": 0}


def test_test_image_in_training_is_reported(six):
    _, maps, groups = six
    leaky = [(0, 0, [0, 1, 2, 3, 4], [4, 5])]  # image 4 is trained on and tested
    assert leak_audit(maps, groups, leaky) == {"test_images_in_training": 1, "test_patients_in_training": 1}


def test_same_image_under_another_id_and_woman_is_reported(six):
    """The split is disjoint by index and by patient, so counting index overlap (the old check) says 0; the
    copy of mdb001 filed as a new woman's image still reaches training, and its values give it away."""
    _, maps, groups = six
    maps = [*maps, maps[0]]
    groups = np.append(groups, "copy-of-mdb001-woman")
    split = (0, 0, [0, 1, 2, 3], [4, 5, 6])
    assert not set(split[2]) & set(split[3]) and not set(groups[split[2]]) & set(groups[split[3]])
    assert leak_audit(maps, groups, [split]) == {"test_images_in_training": 1, "test_patients_in_training": 0}
