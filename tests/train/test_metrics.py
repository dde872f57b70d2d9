import numpy as np

from sketchgen.train.metrics import accuracy_curve, bbox_size, mean_records, nearest_neighbours, pck, pck_both_refs


def test_pck_on_a_hand_made_case():
    gt = np.array([[10.0, 10.0], [110.0, 10.0], [10.0, 60.0], [110.0, 60.0]])  # bbox 100 x 50
    pred = gt + np.array([[3.0, 4.0], [0.0, 9.0], [12.0, 0.0], [0.0, 30.0]])  # errors 5, 9, 12, 30
    assert bbox_size(gt) == 100.0
    res = pck_both_refs(pred, gt, (256, 256))
    # image size: thresholds 12.8 px and 25.6 px
    assert res["pck@0.05"] == 0.75 and res["pck@0.10"] == 0.75
    # bounding box: thresholds 5 px and 10 px (an error equal to the threshold counts)
    assert res["pck_bbox@0.05"] == 0.25 and res["pck_bbox@0.10"] == 0.5
    assert pck(pred, gt, 29.9) == 0.75 and pck(pred, gt, 30.0) == 1.0


def test_both_directions_are_averaged():
    recs = [{"pck@0.10": 1.0}, {"pck@0.10": 0.5}, {"pck@0.10": 0.0}]
    assert mean_records(recs) == {"pck@0.10": 0.5}


def test_accuracy_curve_and_matching():
    errors = np.array([0.0, 1.5, 4.0, 10.0, 25.0])
    assert accuracy_curve(errors, (1, 5, 10, 20)).tolist() == [0.2, 0.6, 0.8, 0.8]
    q = np.array([[1.0, 0.0], [0.0, 1.0]])
    c = np.array([[0.0, 0.9], [0.9, 0.1], [-1.0, 0.0]])
    assert nearest_neighbours(q, c).tolist() == [1, 0]
