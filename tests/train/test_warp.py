import io
import json

import numpy as np
import torch

from sketchgen.datagen.schema import sample_key
from sketchgen.datagen.shards import write_shard
from sketchgen.train.config import TrainConfig
from sketchgen.train.loop import train
from sketchgen.train.warp import WarpEstimator, grid_to_pixels, identity_grid, pixels_to_grid, sample_grid_at


def test_grid_pixel_conventions():
    xy = torch.tensor([[0.5, 0.5], [63.5, 63.5], [32.0, 10.0]])
    g = pixels_to_grid(xy, 64, 64)
    assert torch.allclose(g[:2], torch.tensor([[-1.0, -1.0], [1.0, 1.0]]))  # first/last pixel centres
    assert torch.allclose(grid_to_pixels(g, 64, 64), xy)
    # a grid shifting every target point by (+5, -3) px moves keypoints by exactly that
    shift = pixels_to_grid(torch.tensor([[5.5, -2.5]]), 64, 64) - pixels_to_grid(torch.tensor([[0.5, 0.5]]), 64, 64)
    grid = identity_grid(16) + shift
    moved = sample_grid_at(grid, torch.tensor([[[20.0, 30.0], [40.25, 7.75]]]), 64, 64)
    assert torch.allclose(moved[0], torch.tensor([[25.0, 27.0], [45.25, 4.75]]), atol=1e-4)


def test_estimator_starts_near_the_identity_and_keeps_psc_names():
    torch.manual_seed(0)
    model = WarpEstimator("small").eval()  # PSC's full-width blocks
    grids = model(torch.rand(2, 1, 64, 64), torch.rand(2, 1, 64, 64))
    assert len(grids) == 3 and all(g.shape == (2, 16, 16, 2) for g in grids)
    assert (grids[-1] - identity_grid(16)).abs().max() < 0.05
    names = model.state_dict().keys()
    assert "stn.net_4x.0.weight" in names and "stn.net_16x.18.weight" in names and "stn.base_map" in names
    assert model.state_dict()["stn.net_4x.0.weight"].shape == (512, 512, 4, 4)
    assert model.estimate(torch.rand(1, 1, 64, 64), torch.rand(1, 1, 64, 64)).shape == (1, 64, 64, 2)


def test_warp_loss_falls_on_a_tiny_set(tmp_path, synth):
    synth.write_dataset(tmp_path / "data", "pair", {"train": [8]}, size=64, max_shift=8)
    cfg = TrainConfig.from_flat("warp", str(tmp_path / "data"), str(tmp_path / "run"), steps=40, batch_size=4, lr=1e-3,
                                backbone="small", size=64, stn_width=32, stn_layers=2, log_every=1, checkpoint_every=1000)
    train(cfg)
    first, last = first_and_last(tmp_path / "run", "epe_px")  # end-point error on the grid's nodes
    assert last < 0.7 * first, (first, last)


def test_refined_warp_trains_and_records_its_size(tmp_path, synth):
    from sketchgen.train.runs import load_run

    synth.write_dataset(tmp_path / "data", "pair", {"train": [4]}, size=64, max_shift=8)
    cfg = TrainConfig.from_flat("warp", str(tmp_path / "data"), str(tmp_path / "run"), steps=2, batch_size=2, lr=1e-3,
                                backbone="small", size=64, stn_width=16, stn_layers=1, log_every=1, checkpoint_every=1000,
                                warp_base="softargmax", refine=32, softargmax_prior=0.25)
    result = train(cfg)
    assert 0 < result["epe_px"] < 64  # the refined grid's end-point error in px, finite
    model, loaded = load_run(tmp_path / "run")
    assert (loaded.network.refine, loaded.network.softargmax_prior) == (32, 0.25)
    assert model(torch.rand(1, 1, 64, 64), torch.rand(1, 1, 64, 64))[-1].shape == (1, 32, 32, 2)


def first_and_last(run, column: str, n: int = 8) -> tuple[float, float]:
    """Means of a log.csv column over a run's first and last ``n`` logged steps."""
    header, *rows = (run / "log.csv").read_text().splitlines()
    k = header.split(",").index(column)
    values = [float(r.split(",")[k]) for r in rows]
    return sum(values[:n]) / n, sum(values[-n:]) / n


def test_correlation_layout_is_psc_by_default():
    from sketchgen.train.warp import STN

    g = torch.Generator().manual_seed(0)
    src = {f"layer{i}": torch.randn(1, 8, 16, 16, generator=g) for i in (2, 3)}
    tgt = {f"layer{i}": torch.randn(1, 8, 16, 16, generator=g) for i in (2, 3)}
    corr = STN(width=8, n_layers=1).correlation(tgt, src)  # PSC: channel = target position
    t, s = (3 * 16 + 5), (7 * 16 + 2)  # target node (row 3, col 5), source node (row 7, col 2)
    assert torch.allclose(corr[0, t, 7, 2], (tgt["layer2"][0, :, 3, 5] * src["layer2"][0, :, 7, 2]).sum())
    assert torch.allclose(corr[0, 256 + t, 7, 2], (tgt["layer3"][0, :, 3, 5] * src["layer3"][0, :, 7, 2]).sum())
    other = STN(width=8, n_layers=1, psc_layout=False).correlation(tgt, src)  # channel = source position
    assert torch.allclose(other[0, s, 3, 5], corr[0, t, 7, 2])


def affine_pair(size: int, rng: np.random.Generator, key: str, png) -> dict:
    """Random strokes A and B = A's strokes under a random affine map (rotation/shear/scale/shift as PSC's
    augmentation, smaller), both drawn by sketchgen's rasteriser from the strokes stored beside them,
    with the exact flow where A's pixel lands inside B, NaN elsewhere."""
    from sketchgen.datagen.schema import strokes_key
    from sketchgen.render.strokearrays import StrokeArrays, draw_strokes

    pts = rng.uniform(size * 0.2, size * 0.8, size=(6, 2))
    ang, scale = rng.uniform(-0.3, 0.3), rng.uniform(0.85, 1.15)
    lin = scale * np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
    centre = np.array([size / 2.0, size / 2.0])
    shift = rng.uniform(-size / 10, size / 10, size=2)
    off = centre - lin @ centre + shift  # q = lin p + off in sketchgen pixels (centres at +0.5)

    def strokes(xy):
        n = len(xy)
        return StrokeArrays.of(xy=xy, offset=np.zeros((n, 2)), stroke=np.zeros(n), point=np.zeros((n, 3)),
                               face=np.zeros(n), part=np.zeros(n), kind=np.zeros(n), weight=np.ones(n), width=[2.0])

    strokes_a, strokes_b = strokes(pts), strokes(pts @ lin.T + off)
    a, b = draw_strokes([strokes_a, strokes_b], size, size)
    ys, xs = np.mgrid[0:size, 0:size] + 0.5
    p = np.stack([xs, ys], -1)
    q = p @ lin.T + off
    flow = (q - p).astype(np.float32)
    flow[~((q >= 0) & (q <= size)).all(-1)] = np.nan
    buf = io.BytesIO()
    np.save(buf, flow)
    meta = {"kind": "pair", "pair_kind": "deform", "modality": "sketch-sketch", "split": "train",
            "a": {"shape": "s", "category": "synthetic", "camera": {}, "keypoints": []},
            "b": {"shape": "s", "category": "synthetic", "camera": {}, "keypoints": []}}
    mask = np.full((size, size), 255, np.uint8)
    return {"__key__": key, "a.png": png(a), "b.png": png(b), "flow.npy": buf.getvalue(),
            strokes_key("a.png"): strokes_a.to_npz(), strokes_key("b.png"): strokes_b.to_npz(),
            "amask.png": png(mask), "bmask.png": png(mask), "json": json.dumps(meta)}


def test_pixel_flow_loss_both_ways_falls_on_a_tiny_affine_set(tmp_path, synth):
    rng = np.random.default_rng(0)
    root = tmp_path / "data"
    write_shard(root / "train" / "train-0000.tar",
                [affine_pair(64, rng, sample_key("shape0", 0, i), synth.png) for i in range(6)])
    (root / "manifest.json").write_text(json.dumps({"dataset": "pairs"}))
    cfg = TrainConfig.from_flat("warp", str(root), str(tmp_path / "run"), steps=40, batch_size=3, lr=1e-3,
                                backbone="small", size=64, stn_width=32, stn_layers=2, log_every=1, checkpoint_every=1000,
                                flow_loss="both", cycle_weight=0.0)
    train(cfg)
    first, last = first_and_last(tmp_path / "run", "loss")  # the pixel loss, A -> B plus B -> A
    assert last < 0.7 * first, (first, last)


def test_soft_argmax_base_finds_a_shift_of_distinct_features():
    from sketchgen.train.warp import STN

    # one-hot features: every node is like itself only, so the soft argmax is its own exact match
    eye = torch.eye(256).view(1, 256, 16, 16)
    target = {"layer2": eye, "layer3": eye}
    source = {k: torch.roll(v, shifts=(2, -3), dims=(2, 3)) for k, v in target.items()}  # down 2, left 3
    stn = STN(width=8, n_layers=1, base="softargmax")
    grid = stn.soft_argmax(target, source)
    step = 2.0 / 15  # one node in normalised units
    inner = grid[0, 2:14, 3:13] - stn.base_map[0, 2:14, 3:13]  # nodes whose match did not wrap around
    assert torch.allclose(inner, torch.tensor([-3 * step, 2 * step]), atol=1e-4)
    assert torch.allclose(stn.soft_argmax(target, target), stn.base_map, atol=1e-4)


def test_local_correlation_reads_the_window_around_each_target_node():
    from sketchgen.train.warp import local_correlation

    g = torch.Generator().manual_seed(0)
    target, source = torch.randn(2, 5, 9, 9, generator=g), torch.randn(2, 5, 9, 9, generator=g)
    cost = local_correlation(target, source, 2)
    assert cost.shape == (2, 25, 9, 9)
    dy, dx, y, x = 1, -2, 4, 5  # channel (dy + 2) * 5 + (dx + 2)
    assert torch.allclose(cost[1, 3 * 5 + 0, y, x], (target[1, :, y, x] * source[1, :, y + dy, x + dx]).mean())
    assert cost[0, 0, 0, 0] == 0  # the window's corner lies outside the source
    # its hand-written backward agrees with autograd through the plain products
    t, s = target.clone().requires_grad_(), source.clone().requires_grad_()
    weights = torch.randn(2, 25, 9, 9, generator=g)
    (local_correlation(t, s, 2) * weights).sum().backward()
    t2, s2 = target.clone().requires_grad_(), source.clone().requires_grad_()
    padded = torch.nn.functional.pad(s2, (2, 2, 2, 2))
    plain = torch.stack([(t2 * padded[:, :, i // 5:i // 5 + 9, i % 5:i % 5 + 9]).mean(1) for i in range(25)], 1)
    (plain * weights).sum().backward()
    assert torch.allclose(t.grad, t2.grad, atol=1e-5) and torch.allclose(s.grad, s2.grad, atol=1e-5)


def test_refinement_starts_as_the_upsampled_grid_and_adds_only_its_own_keys():
    from sketchgen.train.warp import upsample_grid

    torch.manual_seed(0)
    model = WarpEstimator("small", stn_width=16, stn_layers=1, base="softargmax", refine=32).eval()
    plain = WarpEstimator("small", stn_width=16, stn_layers=1, base="softargmax")
    a, b = torch.rand(2, 1, 128, 128), torch.rand(2, 1, 128, 128)
    grids = model(b, a)
    assert [tuple(g.shape) for g in grids] == [(2, 16, 16, 2)] * 3 + [(2, 32, 32, 2)]
    assert torch.allclose(grids[-1], upsample_grid(grids[-2], (32, 32)), atol=1e-6)  # zero residual at first
    extra = set(model.state_dict()) - set(plain.state_dict())
    assert extra and all(k.startswith("refine.") for k in extra)
    assert set(plain.state_dict()) <= set(model.state_dict())  # PSC's keys as they were
    assert model.estimate(b, a).shape == (2, 128, 128, 2)


def test_refinement_learns_a_sub_cell_shift_from_local_correlation():
    from sketchgen.train.warp import Refine, identity_grid

    # distinct per-node features; the source is the target moved right by 1 refined node (half a 16x16 cell)
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    target = {"layer1": torch.randn(2, 8, 24, 24, generator=g)}
    source = {"layer1": torch.roll(target["layer1"], shifts=1, dims=3)}
    refine = Refine({"layer1": 8}, size=24, radius=2, width=16)
    coarse = identity_grid(12, 2)
    truth = identity_grid(24, 2) + torch.tensor([2.0 / 23, 0.0])  # one node right in the source
    inner = (slice(None), slice(2, 22), slice(2, 22))  # nodes whose match does not wrap around
    optim = torch.optim.Adam(refine.parameters(), lr=3e-3)
    losses = []
    for _ in range(15):
        loss = (refine(source, target, coarse) - truth)[inner].norm(dim=-1).mean()
        optim.zero_grad()
        loss.backward()
        optim.step()
        losses.append(loss.item())
    assert losses[0] > 0.08 and losses[-1] < 0.3 * losses[0], (losses[0], losses[-1])


def test_soft_argmax_prior_picks_the_nearer_of_two_equal_matches():
    from sketchgen.train.warp import STN

    # every source node looks like its target node and like the node 8 columns further (wrapping): without
    # the prior the soft argmax averages the two, with it the nearer (its own position) wins
    eye = torch.eye(256).view(1, 256, 16, 16)
    source = {k: eye + torch.roll(eye, shifts=8, dims=3) for k in ("layer2", "layer3")}
    target = {k: eye for k in ("layer2", "layer3")}
    plain = STN(width=8, n_layers=1, base="softargmax").soft_argmax(target, source)
    near = STN(width=8, n_layers=1, base="softargmax", prior=0.25)
    grid = near.soft_argmax(target, source)
    node = 2.0 / 15
    assert (plain - near.base_map).abs().max() > 3 * node  # the two matches averaged
    assert torch.allclose(grid, near.base_map, atol=0.1 * node)
