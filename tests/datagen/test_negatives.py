import numpy as np
import pytest

from sketchgen.datagen.negatives import Candidates, NegativeRules, choose_negatives, parse_counts

RULES = NegativeRules(min_distance=0.15, hard_px=48.0, near_px=(16.0, 96.0), near_surface=0.05)


def hand_made():
    """A positive at pixel (100, 100), part 1, and seven stroke points around it, each the only one of
    its kind: index -> (pixel distance, surface distance, part)."""
    table = {
        0: (4.0, 0.01, 1),    # the positive's own stroke: too near in the image and on the surface
        1: (30.0, 0.02, 1),   # near in the image but the same surface spot (a fold): not a negative
        2: (40.0, 0.30, 2),   # near in the image and far on the surface: near and hard
        3: (60.0, 0.08, 1),   # near in the image, a little away on the surface: near only
        4: (200.0, 0.90, 1),  # same part, far: the same-part negative
        5: (250.0, 0.40, 1),  # same part, nearer on the surface than 4: not among the farthest quarter
        6: (300.0, 1.50, 3),  # another part, far
    }
    angle = np.linspace(0, 2 * np.pi, len(table), endpoint=False)
    px = np.array([table[i][0] for i in range(len(table))])
    xy = np.stack([100 + px * np.cos(angle), 100 + px * np.sin(angle)], 1)
    return Candidates(xy=xy, surface=np.array([table[i][1] for i in range(len(table))]),
                      labels=np.array([table[i][2] for i in range(len(table))]), ref_xy=np.array([100.0, 100.0]),
                      ref_label=1)


def test_each_kind_lands_where_it_should():
    cand = hand_made()
    other = Candidates(xy=np.array([[90.0, 100.0], [150.0, 100.0]]), surface=np.array([0.05, 0.70]),
                       labels=np.array([1, 2]), ref_xy=np.array([95.0, 100.0]), ref_label=1)
    for seed in range(20):
        rng = np.random.default_rng(seed)
        negs = choose_negatives((("near", 2), ("hard", 1), ("same-part", 1), ("random", 1), ("other-shape", 1)),
                                cand, rng, RULES, other)
        assert [n.kind for n in negs] == ["near", "near", "hard", "same-part", "random", "other-shape"]
        near, hard, same, rand, oth = negs[:2], negs[2], negs[3], negs[4], negs[5]
        assert sorted(n.index for n in near) == [2, 3]                  # distinct, both in 16..96 px
        assert {(round(n.pixel_distance, 6), n.surface_distance) for n in near} == {(40.0, 0.30), (60.0, 0.08)}
        assert (hard.index, round(hard.pixel_distance, 6), hard.surface_distance) == (2, 40.0, 0.30)
        assert (same.index, same.surface_distance) == (4, 0.90)
        assert rand.index in (2, 4, 5, 6) and rand.surface_distance >= 0.15
        # the other shape's drawing, measured from the anchor's correspondence there
        assert (oth.source, oth.index, round(oth.pixel_distance, 6), oth.surface_distance) == ("other", 1, 55.0, 0.70)
        assert all(n.source == "positive" for n in negs[:5])


def test_fallbacks_and_failure():
    cand = hand_made()
    rng = np.random.default_rng(0)
    # no other shape: other-shape falls back to a random point of the positive's drawing
    (neg,) = choose_negatives((("other-shape", 1),), cand, rng, RULES, None)
    assert (neg.kind, neg.source) == ("random", "positive") and neg.index in (2, 4, 5, 6)
    # nothing near in the image: near falls back to random; nothing far on the surface at all: None
    far_only = Candidates(xy=cand.xy[4:], surface=cand.surface[4:], labels=cand.labels[4:], ref_xy=cand.ref_xy,
                          ref_label=1)
    assert choose_negatives((("near", 1),), far_only, rng, RULES)[0].kind == "random"
    close = Candidates(xy=cand.xy[:2], surface=cand.surface[:2], labels=cand.labels[:2], ref_xy=cand.ref_xy,
                       ref_label=1)
    assert choose_negatives((("near", 1),), close, rng, RULES) is None
    # more asked than there are: repeats, all of the kind
    negs = choose_negatives((("near", 4),), cand, rng, RULES)
    assert [n.kind for n in negs] == ["near"] * 4 and {n.index for n in negs} == {2, 3}


def test_parse_counts():
    assert parse_counts("near:4, other-shape") == (("near", 4), ("other-shape", 1))
    assert parse_counts("") == ()
    with pytest.raises(ValueError, match="farthest"):
        parse_counts("farthest:2")
    with pytest.raises(ValueError, match="at least 1"):
        parse_counts("near:0")
