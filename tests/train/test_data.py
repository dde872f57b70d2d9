import json
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from sketchgen.errors import InputError
from sketchgen.train.images import rotate_flip, to_ink, zoom_crops
from sketchgen.train.pairs import resize_flow
from sketchgen.train.points import NEAR_NEGATIVE_PX, make_point_decoder, pick_negatives
from sketchgen.train.shards import ShardStream, list_shards
from sketchgen.train.triplets import make_triplet_decoder
from sketchgen.train.zooms import StrokeZooms


def _keys(sample, rng):
    return {"key": sample["__key__"]}


def _consume(stream, workers):
    loader = DataLoader(stream, batch_size=None, num_workers=workers)
    return [item["key"] for item in loader]


@pytest.mark.parametrize("shard_sizes", [[3, 4, 2, 5, 1], [7, 6]])  # more shards than consumers, and fewer
def test_split_across_workers_and_ranks_has_no_duplicates_or_gaps(tmp_path, synth, shard_sizes):
    synth.write_dataset(tmp_path, "triplet", {"train": shard_sizes}, size=8, zooms=1)
    shards = list_shards(tmp_path, "train")
    everything = [k for s in shards for k in _consume(ShardStream([s], _keys), 0)]
    assert len(everything) == sum(shard_sizes) == len(set(everything))
    got = []
    for rank in range(2):  # 2 ranks x 2 workers = 4 consumers
        part = _consume(ShardStream(shards, _keys, rank=rank, world_size=2, shuffle=True, seed=3), 2)
        assert part, "every consumer of this set gets something"
        got += part
    assert sorted(got) == sorted(everything)


def _points(sample, rng):
    return [{"key": f"{sample['__key__']}/{i}"} for i in range(3)]


@pytest.mark.parametrize("shard_sizes", [[3, 4, 2, 5, 1], [7, 8]])  # more shards than consumers, and fewer
@pytest.mark.parametrize("shuffle", [True, False])
def test_expanded_stream_split_has_no_duplicates_or_gaps(tmp_path, synth, shard_sizes, shuffle):
    # a pair decoded into several training points: every point once, across 2 ranks x 2 workers
    synth.write_dataset(tmp_path, "triplet", {"train": shard_sizes}, size=8, zooms=1)
    shards = list_shards(tmp_path, "train")
    everything = [k for s in shards for k in _consume(ShardStream([s], _keys), 0)]
    got = []
    for rank in range(2):
        got += _consume(ShardStream(shards, _points, rank=rank, world_size=2, shuffle=shuffle, seed=3, buffer=4,
                                    expand=True), 2)
    assert sorted(got) == sorted(f"{k}/{i}" for k in everything for i in range(3))
    assert len(got) == 3 * sum(shard_sizes)


def test_a_repeating_stream_that_yields_nothing_says_so(tmp_path, synth):
    # e.g. a pair set with no sketch-sketch pairs gives the descriptor no points: fail, do not wait for ever
    synth.write_dataset(tmp_path, "triplet", {"train": [3]}, size=8, zooms=1)
    stream = ShardStream(list_shards(tmp_path, "train"), lambda s, rng: [], expand=True, repeat=True)
    with pytest.raises(InputError, match="no samples in a whole epoch"):
        next(iter(stream))


def test_environment_rank_is_the_default(tmp_path, synth, monkeypatch):
    synth.write_dataset(tmp_path, "triplet", {"train": [5]}, size=8, zooms=1)
    shards = list_shards(tmp_path, "train")
    parts = []
    for rank in range(3):
        monkeypatch.setenv("RANK", str(rank))
        monkeypatch.setenv("WORLD_SIZE", "3")
        parts.append(_consume(ShardStream(shards, _keys), 0))
    assert [len(p) for p in parts] == [2, 2, 1]
    assert sorted(sum(parts, [])) == sorted(_consume(ShardStream(shards, _keys, rank=0, world_size=1), 0))


def test_missing_split_names_the_folder(tmp_path):
    with pytest.raises(InputError, match="no shards"):
        list_shards(tmp_path, "test")


def test_rotation_is_about_the_centre_and_counter_clockwise():
    img = np.full((64, 64), 255, np.uint8)
    img[32, 42] = 0
    out = rotate_flip(img, 90.0, False)
    r, c = np.unravel_index(np.argmin(out), out.shape)
    # the pixel centre (42.5, 32.5) is (+10.5, +0.5) from the image centre (32, 32); a quarter turn
    # counter-clockwise on screen takes (dx, dy) to (dy, -dx): (32.5, 21.5), i.e. row 21, col 32
    assert (r, c) == (21, 32)
    flipped = rotate_flip(img, 0.0, True)
    r, c = np.unravel_index(np.argmin(flipped), flipped.shape)
    assert (r, c) == (32, 64 - 1 - 42)


def test_augmentation_is_shared_by_the_zooms_of_a_role(synth):
    img = synth.pattern(1, 32, np.random.default_rng(0))
    sample = {"__key__": "k"}
    for role in "apn":
        for z in range(3):
            sample[f"{role}{z}.png"] = synth.png(img)
    decode = make_triplet_decoder(32, augment=True)
    out = decode(sample, np.random.default_rng(5))["zooms"]
    assert out.shape == (3, 3, 1, 32, 32)
    for role in range(3):
        assert torch.equal(out[role, 0], out[role, 1]) and torch.equal(out[role, 0], out[role, 2])
    assert not torch.equal(out[0, 0], out[1, 0])  # roles draw their own rotation and flip


def test_triplet_decoder_reads_every_negative_in_member_order(synth):
    from sketchgen.datagen.schema import negative_key

    rng = np.random.default_rng(0)
    sample = {"__key__": "k"}
    images = {}
    for role in ("a", "p"):
        for z in range(3):
            sample[f"{role}{z}.png"] = synth.png(synth.pattern(0, 32, rng))
    for k in range(4):  # negative k draws class k + 1: every negative looks different
        images[k] = synth.pattern(k + 1, 32, rng)
        for z in range(3):
            sample[negative_key(k, z)] = synth.png(images[k])
    out = make_triplet_decoder(32, augment=False)(sample, np.random.default_rng(0))["zooms"]
    assert out.shape == (6, 3, 1, 32, 32)
    for k in range(4):
        assert torch.equal(out[2 + k, 1, 0], torch.from_numpy(to_ink(images[k])))
    # a classic triplet (n0.png .. only) still decodes to three roles
    del sample[negative_key(1, 0)]
    assert make_triplet_decoder(32, augment=False)(sample, np.random.default_rng(0))["zooms"].shape[0] == 3


def test_resize_flow_is_exact_for_a_shift():
    flow = np.zeros((64, 64, 2), np.float32)
    flow[...] = (6.0, -4.0)
    flow[:, :8] = np.nan
    small = resize_flow(flow, 16)
    assert small.shape == (16, 16, 2)
    assert np.allclose(small[:, 2:], (1.5, -1.0))
    assert np.isnan(small[:, :2]).all()


def test_zoom_crops_centre_the_point():
    grey = np.full((100, 100), 255, np.uint8)
    grey[40, 60] = 0  # pixel centre (60.5, 40.5)
    z = zoom_crops(grey, np.array([[60.5, 40.5]]), [8, 4], 16)
    assert z.shape == (1, 2, 1, 16, 16)
    for k in range(2):
        ys, xs = np.nonzero(z[0, k, 0].numpy() > 0.2)
        assert abs(xs.mean() + 0.5 - 8) <= 1.0 and abs(ys.mean() + 0.5 - 8) <= 1.0
    assert to_ink(grey).max() == 1.0


def _line(width):
    """The strokes of one straight line from (20, 100.5) to (236, 100.5), ``width`` px wide."""
    from sketchgen.render.strokearrays import StrokeArrays

    return StrokeArrays.of(xy=[[20.0, 100.5], [236.0, 100.5]], offset=np.zeros((2, 2)), stroke=[0, 0],
                           point=np.zeros((2, 3)), face=[0, 0], part=[0, 0], kind=[0, 0], weight=[1.0, 1.0],
                           width=[width])


def test_stroke_zooms_keep_the_line_width_constant_across_zooms():
    from sketchgen.render.strokearrays import draw_strokes

    strokes = _line(3.0)  # a 3 px line through y = 100.5
    grey = draw_strokes([strokes], 256, 256)[0]
    sz = StrokeZooms(strokes, native=224, width=1.5)
    z = sz.zooms(np.array([[128.5, 100.5]]), [90.0, 40.0], 64)[0, :, 0].numpy()
    for k in range(2):
        rows = z[k].sum(1)
        centroid = (rows * (np.arange(64) + 0.5)).sum() / rows.sum()
        assert abs(centroid - 32.0) < 0.5  # the line passes through the point at the centre
        assert (rows > 0.5 * rows.max()).sum() <= 2  # about one pixel wide at either zoom
    # ink per unit of line length is the same at both zooms; cut from the drawing instead, it grows with
    # the zoom (3 px x 64 / 180 = 1.07 px against 3 px x 64 / 80 = 2.4 px)
    width = [z[k].sum() / 64.0 for k in range(2)]
    assert abs(width[0] / width[1] - 1.0) < 0.2
    cut = zoom_crops(grey, np.array([[128.5, 100.5]]), [90.0, 40.0], 64)[0, :, 0].numpy()
    cut_width = [cut[k].sum() / 64.0 for k in range(2)]
    assert cut_width[1] / cut_width[0] > 1.4  # (less than 2.24: to_ink scales faint thin lines up)


def test_stroke_zooms_draw_like_a_triplet_zoom():
    # a triplet's zoom is drawn by render.raster at 224 px with 1.5 px lines, then resampled by to_ink;
    # a window of a finished drawing must come out the same, not as a whole-pixel cv2 line
    from sketchgen.render.raster import ink_to_image, segment_ink

    z = StrokeZooms(_line(3.0), native=224, width=1.5).zooms(np.array([[128.5, 100.5]]), [40.0], 64)[0, 0, 0].numpy()
    line = segment_ink(np.array([[-10.0, 112.0]]), np.array([[234.0, 112.0]]), np.array([1.5]), np.array([1.5]),
                       224, 224)
    expected = to_ink(ink_to_image(line), 64)
    assert np.abs(z[:, 8:56] - expected[:, 8:56]).max() < 0.02
    assert abs(z[:, 8:56].sum(0).mean() - expected[:, 8:56].sum(0).mean()) < 0.01


def test_pick_negatives_near_and_far():
    rng = np.random.default_rng(0)
    cands = np.stack([np.arange(0, 200, 2.0), np.zeros(100)], 1)  # a stroke along y = 0, every 2 px
    true = np.array([[100.0, 0.0], [0.0, 500.0]])                 # the second has nothing within 48 px
    negs, ok = pick_negatives(true, cands, rng, count=6, near=4)
    assert ok.tolist() == [True, True] and negs.shape == (2, 6, 2)
    lo, hi = NEAR_NEGATIVE_PX
    d = np.linalg.norm(negs[0] - true[0], axis=1)
    assert ((d[:4] >= lo) & (d[:4] <= hi)).all() and (d[4:] > hi).all()
    assert (np.linalg.norm(negs[1] - true[1], axis=1) > hi).all()
    _, ok = pick_negatives(np.array([[0.0, 0.0]]), np.array([[3.0, 0.0]]), rng)  # only a point nearer than 8 px
    assert ok.tolist() == [False]


def test_point_decoder_positive_zooms_are_the_anchor_zooms_moved_by_the_flow(synth):
    # B is A shifted by (7, -4): a point's zooms in B, taken at A's position plus the flow, show what its
    # zooms in A show, wherever the windows lie inside both drawings; near negatives show something else
    size, shift = 128, (7, -4)
    sample = synth.shifted_pair(size, shift, np.random.default_rng(2), "k")
    points = make_point_decoder(32, points=40, negatives=6)(sample, np.random.default_rng(0))
    assert len(points) >= 10 and points[0]["zooms"].shape == (8, 3, 1, 32, 32)
    inside = 0
    for p in points:
        z = p["zooms"]
        diff = (z[0] - z[1]).abs().max().item()
        if diff < 1e-6:
            inside += 1
        assert all((z[1] - z[k]).abs().mean() > 1e-3 for k in range(2, 6))  # the 4 near negatives differ
    assert inside >= 5, inside


def test_a_pair_set_without_strokes_trains_the_warp_and_refuses_the_descriptor_in_one_line(tmp_path, synth):
    """A set built before samples held strokes: the warp reads images and flow only; the descriptor,
    which redraws strokes, is refused before any DataLoader worker starts (manifest schema 1)."""
    from sketchgen.datagen.schema import strokes_key
    from sketchgen.datagen.shards import write_shard
    from sketchgen.errors import InputError
    from sketchgen.train.config import TrainConfig
    from sketchgen.train.loop import train
    from sketchgen.train.pairs import make_pair_decoder

    samples = synth.pair_samples(4, size=32)
    for s in samples:
        for image in ("a.png", "b.png"):
            del s[strokes_key(image)]
    root = tmp_path / "old"
    write_shard(root / "train" / "train-0000.tar", samples)
    (root / "manifest.json").write_text(json.dumps({"dataset": "pairs"}))
    decoded = make_pair_decoder(32)(samples[0], np.random.default_rng(0))
    assert decoded["a"].shape == (1, 32, 32) and decoded["flow"].shape == (32, 32, 2)
    cfg = TrainConfig.from_flat("descriptor", str(root), str(tmp_path / "run"), steps=1, backbone="small", size=32, workers=2)
    with pytest.raises(InputError, match="schema 1, built before sketchgen stored strokes"):
        train(cfg)


def test_rgb_encoders_get_pairs_in_colour_and_grey_ones_ink(synth):
    """A shaded A stays RGB for an encoder whose first convolution takes 3 channels; a grey encoder still
    gets ink (1 on strokes). The drawing B, black on white, is grey in three channels for RGB."""
    import cv2
    import torch
    from torch import nn

    from sketchgen.train.models import input_channels
    from sketchgen.train.pairs import make_pair_decoder
    from sketchgen.train.warp import WarpEstimator

    sample = synth.pair_samples(1, size=32)[0]
    photo = np.zeros((32, 32, 3), np.uint8)
    photo[..., 0] = 200          # RGB: a red photo with a green square
    photo[8:16, 8:16] = (0, 180, 0)
    sample["a.png"] = cv2.imencode(".png", photo[..., ::-1])[1].tobytes()
    rgb = make_pair_decoder(32, channels=3)(sample, np.random.default_rng(0))
    assert rgb["a"].shape == (3, 32, 32) and rgb["a"].dtype == torch.float32
    assert torch.allclose(rgb["a"][:, 0, 0], torch.tensor([200 / 255, 0.0, 0.0]))
    assert torch.allclose(rgb["a"][:, 10, 10], torch.tensor([0.0, 180 / 255, 0.0]))
    b_grey = cv2.imdecode(np.frombuffer(sample["b.png"], np.uint8), cv2.IMREAD_GRAYSCALE) / 255.0
    assert rgb["b"].shape == (3, 32, 32)
    assert np.allclose(rgb["b"].numpy(), np.broadcast_to(b_grey, (3, 32, 32)), atol=1e-6)
    ink = make_pair_decoder(32)(sample, np.random.default_rng(0))
    assert ink["a"].shape == (1, 32, 32)
    assert torch.equal(ink["flow"], rgb["flow"]) or torch.equal(torch.isnan(ink["flow"]), torch.isnan(rgb["flow"]))
    with pytest.raises(ValueError, match="1 \\(ink\\) or 3 \\(RGB\\)"):
        make_pair_decoder(32, channels=2)
    assert input_channels(WarpEstimator("small")) == 1
    rgb_net = WarpEstimator("small")
    rgb_net.encoder.conv1 = nn.Conv2d(3, rgb_net.encoder.conv1.out_channels, 3, 2, 1, bias=False)
    assert input_channels(rgb_net) == 3
