import json

import numpy as np
import pytest

from sketchgen.cli import main
from sketchgen.errors import InputError
from sketchgen.train.spg import (ANCHOR_CELL_PX, CANDIDATE_CELL_PX, PointCache, Sketch, pair_points, place,
                                 placed, read_sketches, resample_stroke, transfer_category, transfer_pair)


def line(x0, x1, y, label):
    """A horizontal stroke of the 0-255 box, vertices every 10 px, one label."""
    xs = np.arange(x0, x1 + 1, 10.0)
    return np.stack([xs, np.full_like(xs, y)], 1), np.full(len(xs), label)


def test_resampling_every_2_px_takes_the_nearer_vertex_label():
    xy, lab = resample_stroke(np.array([[0.0, 0.0], [10.0, 0.0]]), np.array([3, 7]))
    assert np.allclose(xy[:, 0], np.arange(0, 11, 2)) and np.allclose(xy[:, 1], 0)
    assert list(lab) == [3 if x <= 5 else 7 for x in xy[:, 0]]
    # a corner: arc lengths 0, 2, 4, 6 of a 3 + 4 px polyline
    xy, lab = resample_stroke(np.array([[0.0, 0.0], [3.0, 0.0], [3.0, 4.0]]), np.array([0, 1, 2]))
    assert np.allclose(xy, [[0, 0], [2, 0], [3, 1], [3, 3]])
    assert list(lab) == [0, 1, 1, 2]  # t = 0, 2/3 on the first segment; 1/4, 3/4 on the second
    xy, lab = resample_stroke(np.array([[5.0, 6.0]]), np.array([4]))  # a dot is one point
    assert xy.tolist() == [[5.0, 6.0]] and lab.tolist() == [4]


def test_the_box_is_placed_at_80_percent_of_256_px_centred():
    corners = place(np.array([[-0.5, -0.5], [255.5, 255.5], [127.5, 127.5]]))
    assert np.allclose(corners, [[25.6, 25.6], [230.4, 230.4], [128, 128]])


def two_lines(dx=0.0, dy=0.0, swap=False):
    top, bottom = (1, 0) if swap else (0, 1)
    a, la = line(20 + dx, 220 + dx, 40 + dy, top)
    b, lb = line(20 + dx, 120 + dx, 200 + dy, bottom)
    return placed(Sketch("s", ((a, la), (b, lb))))


def position(sketch, index):
    return sketch.xy[index]


def test_part_label_transfer_on_a_hand_made_pair():
    a = two_lines()
    shifted, mirrored = two_lines(dx=4, dy=6), two_lines(swap=True)
    # B's candidates: one per occupied 3 px cell; each line lies in one row of cells
    cells = {lab: len(np.unique(np.floor(shifted.xy[shifted.label == lab, 0] / CANDIDATE_CELL_PX)))
             for lab in (0, 1)}
    assert all(len(np.unique(np.floor(shifted.xy[shifted.label == lab, 1] / CANDIDATE_CELL_PX))) == 1
               for lab in (0, 1))
    anchor_cells = len(np.unique(np.floor(a.xy / ANCHOR_CELL_PX), axis=0))  # fewer than 40: all kept
    res = transfer_pair(a, shifted, {"position": position}, np.random.default_rng(5))
    ia, ib = pair_points(a, shifted, np.random.default_rng(5))
    assert len(ia) == anchor_cells < 40 and len(ib) == cells[0] + cells[1]
    assert len(pair_points(a, shifted, np.random.default_rng(5), anchors=20)[0]) == 20
    # the nearest position of a point is on its own line: every label right
    assert res["position"].tolist() == [1.0] * len(ia)
    # chance: the share of B's candidates on the anchor's line, computed from the cells
    want = np.array([cells[lab] / (cells[0] + cells[1]) for lab in a.label[ia]])
    assert np.allclose(res["chance"], want) and len(set(want)) == 2
    # the same sketch with its labels swapped between the lines: by position every label is wrong
    res = transfer_pair(a, mirrored, {"position": position}, np.random.default_rng(5))
    assert res["position"].tolist() == [0.0] * len(ia)
    # a descriptor that cannot tell points apart matches every anchor to the first candidate (the top line's)
    res = transfer_pair(a, shifted, {"flat": lambda s, index: np.zeros((len(index), 4))}, np.random.default_rng(5))
    assert np.allclose(res["flat"], a.label[ia] == shifted.label[ib[0]])


def test_the_point_cache_describes_each_point_once():
    sketch, asked = two_lines(), []

    def describe(s, xy):
        asked.append(len(xy))
        return np.asarray(xy) * 2

    cache = PointCache(describe)
    assert np.allclose(cache(sketch, np.array([5, 1, 5])), sketch.xy[[5, 1, 5]] * 2)
    assert np.allclose(cache(sketch, np.array([1, 7])), sketch.xy[[1, 7]] * 2)
    assert asked == [2, 1]


def test_a_category_pools_anchors_over_pairs():
    sketches = [two_lines(dx=k) for k in range(4)]
    res = transfer_category(sketches, {"position": position}, np.random.default_rng(0), pairs=5)
    assert res["pairs"] == 5 and res["anchors"] > 5 and res["methods"]["position"] == 1.0
    with pytest.raises(InputError, match="two sketches"):
        transfer_category(sketches[:1], {}, np.random.default_rng(0))


def write_spg(root, category, split, sketches, extra_lines=()):
    (root / "spg256").mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({"key_id": str(k), "drawing": [[list(map(float, xy[:, 0])), list(map(float, xy[:, 1])),
                                                         list(map(int, lab))] for xy, lab in strokes]})
             for k, strokes in enumerate(sketches)]
    (root / "spg256" / f"{category}_{split}.ndjson").write_text("\n".join([*lines, *extra_lines]) + "\n")


def test_a_bad_sketch_is_left_out_and_named(tmp_path):
    write_spg(tmp_path, "cup", "valid", [[line(0, 50, 9, 0)]] * 2, extra_lines=['{"drawing": [[[1, 2], [3], [0]]]}'])
    sketches, problems = read_sketches(tmp_path, "cup", "val")
    assert len(sketches) == 2 and len(problems) == 1
    assert problems[0].startswith(f"{tmp_path / 'spg256' / 'cup_valid.ndjson'}:3: stroke 0")
    with pytest.raises(InputError, match="cup_test.ndjson: cannot read"):
        read_sketches(tmp_path, "cup", "test")
    with pytest.raises(InputError, match="no split 'train'"):
        read_sketches(tmp_path, "cup", "train")


def test_eval_descriptor_on_spg_from_the_command_line(tmp_path, synth):
    spg = tmp_path / "spg"
    # airplane: every point of every sketch has one label, so every method transfers it right
    write_spg(spg, "airplane", "valid", [[line(20 + k, 60 + k, 100 + 3 * k, 2)] for k in range(3)])
    # coffee_cup: two lines with their own labels
    write_spg(spg, "coffee_cup", "valid", [[line(20, 60, 40 + k, 0), line(20, 40, 200 - k, 1)] for k in range(3)])
    trip = synth.write_dataset(tmp_path / "trip", "triplet", {"train": [4], "test": [2]}, size=32)
    assert main(["train", "descriptor", "--data", str(trip), "--out", str(tmp_path / "rd"), "--size", "32",
                 "--backbone", "small", "--steps", "1", "--batch-size", "2", "--threads", "1"]) == 0
    assert main(["eval", "descriptor", "--run", str(tmp_path / "rd"), "--spg", str(spg), "--split", "valid",
                 "--categories", "airplane", "coffee_cup", "--out", str(tmp_path / "e")]) == 0
    metrics = json.loads((tmp_path / "e" / "metrics.json").read_text())["descriptor_spg"]
    assert set(metrics) == {"model", "shape_context", "hog", "untrained", "chance"}
    for method, vals in metrics.items():
        assert vals["airplane"] == 1.0
        assert 0.0 <= vals["coffee_cup"] <= 1.0
        assert vals["mean"] == pytest.approx((vals["airplane"] + vals["coffee_cup"]) / 2)
    details = json.loads((tmp_path / "e" / "details.json").read_text())["descriptor_spg"]
    assert details["split"] == "valid" and details["categories"]["airplane"]["anchors"] > 0
    # the demo's choice of methods: the same figures for those it keeps, chance always
    from sketchgen.cli.commands.demo import SPG_METHODS
    from sketchgen.train.evaluate import evaluate_run

    some = evaluate_run("descriptor", str(tmp_path / "rd"), None, tmp_path / "e3", spg=str(spg), spg_split="valid",
                        spg_categories=["airplane", "coffee_cup"], spg_methods=SPG_METHODS)["metrics"]["descriptor_spg"]
    assert set(some) == {*SPG_METHODS, "chance"} and "untrained" not in some
    assert all(some[m] == pytest.approx(metrics[m]) for m in some)
    # a category SPG lacks is one line naming the folder, exit 2
    assert main(["eval", "descriptor", "--run", str(tmp_path / "rd"), "--spg", str(spg), "--split", "valid",
                 "--categories", "pig", "--out", str(tmp_path / "e2")]) == 2
