import numpy as np
import pytest
import torch

from sketchgen.errors import InputError
from sketchgen.train.psc6k import evaluate_psc6k, read_psc6k
from sketchgen.train.warp import WarpEstimator


def _write_set(root, synth):
    """Two photo-sketch pairs where the sketch is the photo shifted right by 8 px (at 256 px)."""
    rng = np.random.default_rng(0)
    rows = []
    for k in range(2):
        photo = np.full((256, 256), 255, np.uint8)
        pts = rng.uniform(60, 190, size=(5, 2)).astype(int)
        for p, q in zip(pts[:-1], pts[1:]):
            import cv2
            cv2.line(photo, tuple(int(v) for v in p), tuple(int(v) for v in q), 0, 3)
        sketch = np.roll(photo, 8, axis=1)
        (root / "photo").mkdir(exist_ok=True)
        (root / "sketch").mkdir(exist_ok=True)
        (root / "photo" / f"p{k}.png").write_bytes(synth.png(photo))
        (root / "sketch" / f"s{k}.png").write_bytes(synth.png(sketch))
        xa = rng.integers(40, 200, 8)
        ya = rng.integers(40, 200, 8)
        join = lambda v: ";".join(str(int(x)) for x in v)
        rows.append(f"photo/p{k}.png,sketch/s{k}.png,cat{k},{join(xa)},{join(ya)},{join(xa + 8)},{join(ya)}")
    (root / "test_pairs_ps.csv").write_text("photo,sketch,class,XA,YA,XB,YB\n" + "\n".join(rows) + "\n")


def test_reads_the_psc6k_layout(tmp_path, synth):
    _write_set(tmp_path, synth)
    pairs = read_psc6k(tmp_path)
    assert len(pairs) == 2 and pairs[0].category == "cat0"
    assert pairs[0].kp_photo.shape == (8, 2)
    # X is the column, Y the row, pixel indices -> pixel centres
    assert np.allclose(pairs[0].kp_sketch - pairs[0].kp_photo, [8.0, 0.0])
    assert pairs[0].photo == tmp_path / "photo" / "p0.png"


def test_evaluates_with_identity_pck_known(tmp_path, synth):
    _write_set(tmp_path, synth)
    torch.manual_seed(0)
    res = evaluate_psc6k(WarpEstimator("small", stn_width=16, stn_layers=1), 64, tmp_path)
    assert res["pairs"] == 2 and set(res["methods"]) == {"model", "identity", "affine"}
    ident = res["methods"]["identity"]
    # every keypoint lies 8 px (at 256 px; 2 px at 64) from its match: within 0.05 x image size
    assert ident["pck@0.05"] == 1.0 and ident["pck@0.10"] == 1.0
    # the keypoints' boxes span 110-160 px of 256, so 0.05 x box < 8 px: identity fails them all
    assert ident["pck_bbox@0.05"] == 0.0


def test_bad_csv_names_the_file_and_line(tmp_path):
    (tmp_path / "t.csv").write_text("photo,sketch,class,XA,YA,XB,YB\na.png,b.png,c,1;2,1;x,1;2,1;2\n")
    with pytest.raises(InputError, match=r"t\.csv:2"):
        read_psc6k(tmp_path / "t.csv")
    (tmp_path / "u.csv").write_text("photo,sketch\n")
    with pytest.raises(InputError, match="missing column"):
        read_psc6k(tmp_path / "u.csv")
    (tmp_path / "v.csv").write_text("photo,sketch,class,XA,YA,XB,YB\nnope.png,b.png,c,1,1,1,1\n")
    with pytest.raises(InputError, match="nope.png"):
        evaluate_psc6k(WarpEstimator("small", stn_width=16, stn_layers=1), 64, tmp_path / "v.csv")
