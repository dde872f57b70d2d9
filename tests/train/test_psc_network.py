"""PSC's own network (``--backbone psc-resnet18``) and its checkpoint for PSC's code.

The expected keys and shapes are written here from PSC's architecture as its code defines it (ResNet-18
with two batch norms per norm layer, MoCo's head and queue, the three-block STN, ``pos_map``; models/
resnet_cbn.py, models/moco.py, models/PSCNet.py of cogtoolslab/photo-sketch-correspondence), not from
sketchgen's modules."""

import io
import json

import cv2
import numpy as np
import pytest
import torch

from sketchgen.cli import main
from sketchgen.datagen.schema import sample_key
from sketchgen.datagen.shards import write_shard
from sketchgen.errors import InputError
from sketchgen.train.backbones import PHOTO, SKETCH, ResNet18, build_backbone
from sketchgen.train.config import TrainConfig
from sketchgen.train.loop import train
from sketchgen.train.runs import load_run
from sketchgen.train.pairs import make_pair_decoder
from sketchgen.train.warp import STN, WarpEstimator

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)  # torchvision's Normalize in PSC's dataset
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)


# ------------------------------------------------------------------------------------ the contract
def _bn(prefix: str, c: int) -> dict:
    """PSC's CondBatchNorm2d: a list of two BatchNorm2d, ``norms.0`` (photo) and ``norms.1`` (sketch)."""
    return {f"{prefix}.norms.{d}.{leaf}": shape for d in (0, 1)
            for leaf, shape in (("weight", (c,)), ("bias", (c,)), ("running_mean", (c,)), ("running_var", (c,)),
                                ("num_batches_tracked", ()))}


def resnet18_cbn_keys() -> dict:
    """ResNet-18 (He et al.; torchvision's names): 7x7 stem on RGB, four stages of two basic blocks of
    64/128/256/512 channels, a 1x1 projection in the first block of stages 2-4; its fc replaced by an
    identity in PSCNet (no keys)."""
    keys = {"conv1.weight": (64, 3, 7, 7), **_bn("bn1", 64)}
    inplanes = 64
    for stage, planes in enumerate((64, 128, 256, 512), start=1):
        for block in (0, 1):
            p, cin = f"layer{stage}.{block}", inplanes if block == 0 else planes
            keys[f"{p}.conv1.weight"] = (planes, cin, 3, 3)
            keys.update(_bn(f"{p}.bn1", planes))
            keys[f"{p}.conv2.weight"] = (planes, planes, 3, 3)
            keys.update(_bn(f"{p}.bn2", planes))
            if block == 0 and stage > 1:
                keys[f"{p}.downsample.0.weight"] = (planes, cin, 1, 1)
                keys.update(_bn(f"{p}.downsample.1", planes))
        inplanes = planes
    return keys


def stn_keys() -> dict:
    """STN(corr_layer=[2, 3], feat_size=16, stn_size=16, stn_layer=5): 16*16*2 = 512 correlation channels;
    each block a Sequential of conv(ds x ds, stride ds) + BN + LeakyReLU, five (3x3 conv without bias + BN
    + LeakyReLU) halving the channels, a 3x3 conv to 2 with bias, an upsampling (no keys)."""
    def bn(prefix, c):
        return {f"{prefix}.{leaf}": shape for leaf, shape in (("weight", (c,)), ("bias", (c,)),
                ("running_mean", (c,)), ("running_var", (c,)), ("num_batches_tracked", ()))}

    keys = {}
    for name, ds in (("net_4x", 4), ("net_8x", 2), ("net_16x", 1)):
        dims = 512
        keys[f"{name}.0.weight"], keys[f"{name}.0.bias"] = (dims, dims, ds, ds), (dims,)
        keys.update(bn(f"{name}.1", dims))
        for i in range(5):
            keys[f"{name}.{3 + 3 * i}.weight"] = (dims // 2, dims, 3, 3)
            keys.update(bn(f"{name}.{4 + 3 * i}", dims // 2))
            dims //= 2
        keys[f"{name}.18.weight"], keys[f"{name}.18.bias"] = (2, dims, 3, 3), (2,)
    keys["base_map"] = (1, 16, 16, 2)
    return keys


def pscnet_keys(dim: int = 128, k: int = 8192) -> dict:
    """PSCNet(moco.MoCo, resnet18, dim, K, corr_layer=[2, 3]): encoder_q and encoder_k, the same modules
    again inside the MoCo framework, MoCo's 512 -> 512 -> dim heads and its queue, the STN, pos_map;
    all under train_psc.py's DistributedDataParallel prefix ``module.``."""
    enc = resnet18_cbn_keys()
    keys = {f"{p}.{n}": s for p in ("encoder_q", "encoder_k", "framework.encoder_q", "framework.encoder_k")
            for n, s in enc.items()}
    for head in ("fc_q", "fc_k"):
        keys.update({f"framework.{head}.0.weight": (512, 512), f"framework.{head}.0.bias": (512,),
                     f"framework.{head}.2.weight": (dim, 512), f"framework.{head}.2.bias": (dim,)})
    keys["framework.queue"], keys["framework.queue_ptr"] = (dim, k), (1,)
    keys.update({f"stn.{n}": s for n, s in stn_keys().items()})
    keys["pos_map"] = (1, 2, 16, 16)
    return {f"module.{n}": s for n, s in keys.items()}


# ------------------------------------------------------------------------------------ data
def _png_rgb(rgb: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(rgb[..., ::-1]))  # an RGB file (OpenCV writes BGR)
    assert ok
    return buf.tobytes()


def photo_pairs(synth, n: int, size: int, seed: int = 0) -> list[dict]:
    """``sketch-shaded`` pairs: A a colour image (random colour blocks), B the synthetic sketch."""
    rng = np.random.default_rng(seed)
    out = []
    for i, sample in enumerate(synth.pair_samples(n, size=size, max_shift=3, seed=seed)):
        blocks = rng.integers(0, 256, size=(4, 4, 3)).astype(np.uint8)
        photo = cv2.resize(blocks, (size, size), interpolation=cv2.INTER_NEAREST)
        meta = json.loads(sample["json"])
        meta["modality"] = "sketch-shaded"
        sample = {k: v for k, v in sample.items() if not k.startswith("a.strokes")}
        sample.update({"a.png": _png_rgb(photo), "json": json.dumps(meta), "__key__": sample_key("photo", 0, i)})
        out.append(sample)
    return out


def write_photo_set(root, synth, n: int = 4, size: int = 32):
    write_shard(root / "train" / "train-0000.tar", photo_pairs(synth, n, size))
    (root / "manifest.json").write_text(json.dumps({"dataset": "pairs", "schema": 2}))
    return root


@pytest.fixture
def psc_run(tmp_path, synth):
    """One step of ``sketchgen train warp --backbone psc-resnet18`` on four 32 px photo-sketch pairs."""
    data = write_photo_set(tmp_path / "data", synth)
    run = tmp_path / "run"
    assert main(["train", "warp", "--data", str(data), "--out", str(run), "--steps", "1", "--batch-size", "2",
                 "--backbone", "psc-resnet18", "--size", "32", "--threads", "1"]) == 0
    return run


# ------------------------------------------------------------------------------------ tests
def test_encoder_has_psc_names_shapes_and_shares_its_domain_norms_as_psc_code():
    net = build_backbone("psc-resnet18")
    want = resnet18_cbn_keys()
    got = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    assert got == want
    # PSC's CondBatchNorm2d lists one BatchNorm2d twice: both names are one module (one set of parameters)
    assert net.bn1.norms[0] is net.bn1.norms[1]
    assert net.layer2[0].downsample[1].norms[0] is net.layer2[0].downsample[1].norms[1]
    # replicate padding (resnet_cbn's PADDING): a constant image gives a constant stem response inside and
    # at the border alike, which zero padding would not
    net.eval()
    with torch.no_grad():
        stem = net.conv1(torch.ones(1, 3, 32, 32))
    assert torch.allclose(stem, stem[:, :, 8:9, 8:9].expand_as(stem), atol=1e-5)
    feats = net.features(torch.randn(2, 3, 64, 64), PHOTO)
    assert [tuple(feats[f"layer{i}"].shape[1:]) for i in range(1, 5)] == [(64, 16, 16), (128, 8, 8), (256, 4, 4),
                                                                           (512, 2, 2)]


def test_separate_domain_norms_normalise_each_domain_by_its_own_statistics():
    torch.manual_seed(0)
    net = build_backbone("psc-resnet18", domain_bn="separate").train()
    bn = net.bn1
    assert bn.norms[0] is not bn.norms[1]
    x = torch.randn(4, 64, 8, 8)
    x[2:] = x[2:] * 3.0 + 5.0  # the sketches' statistics differ from the photos'
    mixed = bn(x, torch.tensor([PHOTO, PHOTO, SKETCH, SKETCH]))
    # each half normalised alone: zero mean and unit variance per channel within its own domain
    for half in (mixed[:2], mixed[2:]):
        assert half.mean(dim=(0, 2, 3)).abs().max() < 1e-4
        assert (half.var(dim=(0, 2, 3), unbiased=False) - 1).abs().max() < 1e-3
    # and the running statistics of each domain moved towards its own mean (momentum 0.1)
    assert torch.allclose(bn.norms[1].running_mean, 0.1 * x[2:].mean(dim=(0, 2, 3)), atol=1e-4)
    assert torch.allclose(bn.norms[0].running_mean, 0.1 * x[:2].mean(dim=(0, 2, 3)), atol=1e-4)


def test_torchvision_resnet18_weights_load_into_both_domains(tmp_path):
    plain = ResNet18(in_channels=3)  # torchvision's names: bn1.weight, layer2.0.downsample.1.weight, ...
    with torch.no_grad():
        plain.bn1.weight.uniform_()
        plain.layer2[0].downsample[1].running_var.uniform_(1, 2)
    torch.save(plain.state_dict(), tmp_path / "r18.pt")
    net = build_backbone("psc-resnet18", weights=tmp_path / "r18.pt", domain_bn="separate")
    for d in (0, 1):
        assert torch.equal(net.bn1.norms[d].weight, plain.bn1.weight)
        assert torch.equal(net.layer2[0].downsample[1].norms[d].running_var, plain.layer2[0].downsample[1].running_var)
    assert torch.equal(net.conv1.weight, plain.conv1.weight)


def _bilinear_zeros(img: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Reference ``grid_sample(align_corners=True, padding zeros)``: img (C, H, W), grid (h, w, 2) (x, y)
    in [-1, 1], -1/+1 the centres of the first/last pixels -> (C, h, w)."""
    c, hh, ww = img.shape
    out = np.zeros((c,) + grid.shape[:2])
    for i in range(grid.shape[0]):
        for j in range(grid.shape[1]):
            x = (grid[i, j, 0] + 1) / 2 * (ww - 1)
            y = (grid[i, j, 1] + 1) / 2 * (hh - 1)
            x0, y0 = int(np.floor(x)), int(np.floor(y))
            for yy, wy in ((y0, 1 - (y - y0)), (y0 + 1, y - y0)):
                for xx, wx in ((x0, 1 - (x - x0)), (x0 + 1, x - x0)):
                    if 0 <= yy < hh and 0 <= xx < ww:
                        out[:, i, j] += wy * wx * img[:, yy, xx]
    return out


def _to16(img: np.ndarray) -> np.ndarray:
    """Bilinear resize (align_corners False) to 16x16 of a 32x32 map (the mean of each 2x2 block) or a
    16x16 map (itself)."""
    c, h, w = img.shape
    if h == 16:
        return img
    assert h == 32
    return img.reshape(c, 16, 2, 16, 2).mean(axis=(2, 4))


def _corr(target: np.ndarray, source: np.ndarray) -> np.ndarray:
    """PSC's layout: channel = target position (row-major), spatial = source position -> (256, 16, 16)."""
    c = target.shape[0]
    return np.einsum("ct,cyx->tyx", target.reshape(c, 256), source)


def test_stn_matches_a_direct_computation_warping_the_32px_layer2_before_resizing():
    torch.manual_seed(0)
    stn = STN().eval()  # PSC's estimator: layers 2 and 3, 512 correlation channels, 5 layers per block
    with torch.no_grad():
        for m in stn.modules():  # weights that move the grid by pixels, not the initial near-identity
            if isinstance(m, torch.nn.Conv2d):
                m.weight.normal_(0, (0.25 if m.out_channels == 2 else 1.0) / np.sqrt(m.weight[0].numel()))
    rng = np.random.default_rng(0)
    src = {"layer2": rng.normal(size=(1, 8, 32, 32)), "layer3": rng.normal(size=(1, 6, 16, 16))}
    tgt = {"layer2": rng.normal(size=(1, 8, 32, 32)), "layer3": rng.normal(size=(1, 6, 16, 16))}
    with torch.no_grad():
        got = stn({k: torch.tensor(v, dtype=torch.float32) for k, v in src.items()},
                  {k: torch.tensor(v, dtype=torch.float32) for k, v in tgt.items()})

    def block(net, corr):
        with torch.no_grad():
            return net(torch.tensor(corr[None], dtype=torch.float32))[0].permute(1, 2, 0).double().numpy()

    ys, xs = np.mgrid[0:16, 0:16]
    identity = np.stack([-1 + 2 * xs / 15, -1 + 2 * ys / 15], axis=-1)
    t16 = {k: _to16(v[0]) for k, v in tgt.items()}

    def corr_of(source16):
        return np.concatenate([_corr(t16[k], source16[k]) for k in ("layer2", "layer3")])

    def run(warp_first: bool):
        grid = block(stn.net_4x, corr_of({k: _to16(v[0]) for k, v in src.items()})) + identity
        grids = [grid]
        for net in (stn.net_8x, stn.net_16x):
            if warp_first:  # PSC: sample the encoder's own maps at the grid's nodes, then resize
                warped = {k: _to16(_bilinear_zeros(v[0], grid)) for k, v in src.items()}
            else:  # the other order: resize to 16x16 first, then sample
                warped = {k: _bilinear_zeros(_to16(v[0]), grid) for k, v in src.items()}
            grid = grid + block(net, corr_of(warped))
            grids.append(grid)
        return grids

    want, other = run(True), run(False)
    px = 127.5  # normalised units -> pixels of a 256 px image
    moved = np.abs(want[-1] - identity).max() * px
    assert moved > 5, moved  # the check is about a grid that moves
    for g, w in zip(got, want):
        assert np.abs(g[0].double().numpy() - w).max() * px < 1e-3
    # the order matters, so this test tells the two apart
    assert np.abs(other[-1] - want[-1]).max() * px > 0.1


def test_rgb_loader_keeps_the_photo_in_colour_and_the_sketch_black_on_white(synth):
    sample = photo_pairs(synth, 1, 32)[0]
    decoded = make_pair_decoder(32, channels=3)(sample, np.random.default_rng(0))
    photo = cv2.imdecode(np.frombuffer(sample["a.png"], np.uint8), cv2.IMREAD_COLOR)[..., ::-1]
    assert decoded["a"].shape == (3, 32, 32)
    assert torch.allclose(decoded["a"], torch.from_numpy(photo.transpose(2, 0, 1) / 255.0).float(), atol=1e-6)
    assert (decoded["a"][0] - decoded["a"][2]).abs().max() > 0.1  # in colour, not a grey copy
    sketch = cv2.imdecode(np.frombuffer(sample["b.png"], np.uint8), cv2.IMREAD_GRAYSCALE)
    # paper white = 1, the strokes dark: not inverted
    assert torch.allclose(decoded["b"], torch.from_numpy(sketch / 255.0).float().expand(3, -1, -1), atol=1e-6)
    assert sketch.min() < 128 and (sketch == 255).mean() > 0.5
    assert (decoded["a_domain"], decoded["b_domain"]) == (PHOTO, SKETCH)


def test_psc_encoder_normalises_rgb_as_psc_dataset_then_runs_its_layers():
    torch.manual_seed(0)
    net = build_backbone("psc-resnet18").eval()
    x = torch.rand(1, 3, 32, 32)
    normalised = (x - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        feats = net.features(x, PHOTO)
        # the stem and first stage by hand, on the input PSC's dataset would hand its encoder
        want = net.maxpool(net.relu(net.bn1(net.conv1(normalised), PHOTO)))
        for block in net.layer1:
            want = block(want, PHOTO)
    assert feats["layer1"].shape == (1, 64, 8, 8)
    assert torch.allclose(feats["layer1"], want, atol=1e-5)
    assert not any("rgb" in k for k in net.state_dict())  # PSC's encoder has no such key


def test_trainer_feeds_rgb_and_domains_to_a_psc_encoder(tmp_path, synth, monkeypatch):
    data = write_photo_set(tmp_path / "data", synth, n=2, size=32)
    seen = []
    original = WarpEstimator.encode

    def spy(self, images, domain=None):
        seen.append((tuple(images.shape), domain.tolist()))
        return original(self, images, domain)

    monkeypatch.setattr(WarpEstimator, "encode", spy)
    cfg = TrainConfig.from_flat("warp", str(data), str(tmp_path / "run"), steps=1, batch_size=2, backbone="psc-resnet18",
                                size=32, cycle_weight=0.0, stn_width=16, stn_layers=1)
    train(cfg)
    assert seen == [((2, 3, 32, 32), [PHOTO, PHOTO]), ((2, 3, 32, 32), [SKETCH, SKETCH])]
    with pytest.raises(InputError, match="warp estimator only"):
        TrainConfig.from_flat("descriptor", str(data), str(tmp_path / "d"), backbone="psc-resnet18").resolved()


def test_psc_checkpoint_has_exactly_pscnets_keys_and_shapes(psc_run, tmp_path):
    out = tmp_path / "psc.pth"
    assert main(["export", "psc-checkpoint", str(psc_run), "--out", str(out)]) == 0
    ckpt = torch.load(out, map_location="cpu", weights_only=True)  # PSC's torch.load, as newer torch runs it
    assert ckpt["epoch"] == 0 and set(ckpt) >= {"state_dict", "epoch", "optimizer", "scaler"}
    state = ckpt["state_dict"]
    want = pscnet_keys()
    assert sorted(set(want) - set(state)) == [] and sorted(set(state) - set(want)) == []
    assert {k: tuple(v.shape) for k, v in state.items()} == want
    assert state["module.framework.queue_ptr"].dtype == torch.int64
    assert state["module.encoder_q.bn1.norms.0.num_batches_tracked"].dtype == torch.int64
    # the network's values: the run's encoder under all four names, its estimator, both domains' norms alike
    model, _ = load_run(psc_run)
    own = model.state_dict()
    for name in ("conv1.weight", "layer3.0.downsample.1.norms.1.running_var", "layer4.1.bn2.norms.0.weight"):
        for p in ("encoder_q", "encoder_k", "framework.encoder_q", "framework.encoder_k"):
            assert torch.equal(state[f"module.{p}.{name}"], own[f"encoder.{name}"])
    # trained, not an initial copy: the one step ran A's batch and B's through the shared norm
    assert state["module.encoder_k.bn1.norms.1.num_batches_tracked"].item() == 2
    assert torch.equal(state["module.stn.net_8x.0.weight"], own["stn.net_8x.0.weight"])
    assert torch.equal(state["module.encoder_q.bn1.norms.0.running_mean"], state["module.encoder_q.bn1.norms.1.running_mean"])
    # MoCo's queue: unit columns; pos_map: the identity grid, channels first
    assert torch.allclose(state["module.framework.queue"].norm(dim=0), torch.ones(8192), atol=1e-5)
    ys, xs = torch.meshgrid(torch.arange(16.0), torch.arange(16.0), indexing="ij")
    assert torch.allclose(state["module.pos_map"][0], torch.stack([-1 + 2 * xs / 15, -1 + 2 * ys / 15]), atol=1e-6)
    # PSC's train_psc.py catches a ValueError from the optimiser's load_state_dict and starts afresh
    with pytest.raises(ValueError):
        torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1).load_state_dict(ckpt["optimizer"])
    # the same run exports the same bytes
    again = tmp_path / "again.pth"
    assert main(["export", "psc-checkpoint", str(psc_run), "--out", str(again)]) == 0
    assert again.read_bytes() == out.read_bytes()


def test_a_psc_checkpoint_starts_a_psc_encoder(tmp_path):
    """--weights with a checkpoint of PSC's layout (its released models, or an export) reads its query
    encoder."""
    from sketchgen.train.psc_checkpoint import psc_state_dict

    torch.manual_seed(3)
    source = WarpEstimator("psc-resnet18", stn_width=16, stn_layers=1)
    with torch.no_grad():
        source.encoder.layer3[1].bn2.norms[0].running_mean.uniform_()
    state = psc_state_dict(source, moco_k=16)
    torch.save({"state_dict": state, "epoch": 7}, tmp_path / "psc.pth")
    net = build_backbone("psc-resnet18", weights=tmp_path / "psc.pth")
    for k, v in source.encoder.state_dict().items():
        assert torch.equal(net.state_dict()[k], v), k


def test_psc_checkpoint_refuses_runs_psc_cannot_hold(tmp_path, capsys, synth):
    run = tmp_path / "run"
    data = write_photo_set(tmp_path / "data", synth, n=2, size=32)
    train(TrainConfig.from_flat("warp", str(data), str(run), steps=0, backbone="psc-resnet18", size=32, stn_width=16,
                                stn_layers=1))
    assert main(["export", "psc-checkpoint", str(run), "--out", str(tmp_path / "x.pth")]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert str(run) in err and "stn_width=16" in err and "no --stn-width" in err
    assert not (tmp_path / "x.pth").exists()
    sep = tmp_path / "sep"
    train(TrainConfig.from_flat("warp", str(data), str(sep), steps=0, backbone="psc-resnet18", size=32, domain_bn="separate"))
    assert main(["export", "psc-checkpoint", str(sep), "--out", str(tmp_path / "y.pth")]) == 2
    assert "domain_bn='separate'" in capsys.readouterr().err
