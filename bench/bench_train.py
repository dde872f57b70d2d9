"""Training throughput: samples per second of one optimiser step for both models, on this machine.

Measures the model step alone (forward, loss, backward, Adam) on in-memory batches, and the shard
decoding (PNG decode, augmentation, resampling; drawing the zooms of a pair set's points) alone, for the
CPU configurations the demo uses and for the full-size ones (ResNet-18; PSC's estimator). Prints medians
over repeated timed steps.

    python bench/bench_train.py [--device cuda] [--threads N] [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


from sketchgen.train.config import TrainConfig  # noqa: E402
from sketchgen.train.losses import descriptor_loss, warp_loss  # noqa: E402
from sketchgen.train.models import build_model  # noqa: E402


def descriptor_batch(b, size, zooms=3, roles=3):
    """``roles`` = 3 for triplets, 2 + negatives for the points of a pair set."""
    g = torch.Generator().manual_seed(0)
    return {"zooms": (torch.rand(b, roles, zooms, 1, size, size, generator=g) > 0.97).float(), "key": ["k"] * b}


def warp_batch(b, size):
    g = torch.Generator().manual_seed(0)
    a = (torch.rand(b, 1, size, size, generator=g) > 0.97).float()
    flow = torch.full((b, size, size, 2), 3.0)
    return {"a": a, "b": torch.roll(a, 3, dims=-1), "flow": flow, "key": ["k"] * b}


def time_steps(cfg: TrainConfig, batch: dict, device: str, repeats: int, memory_format=None) -> float:
    """Median seconds per optimiser step (``memory_format``: lay the model's weights out so first)."""
    torch.manual_seed(0)
    model = build_model(cfg).to(device).train()
    if memory_format is not None:
        model = model.to(memory_format=memory_format)
    optim = torch.optim.Adam(model.parameters(), lr=1e-4)
    fn = descriptor_loss if cfg.model == "descriptor" else warp_loss
    times = []
    for k in range(repeats + 2):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        loss, _ = fn(model, batch, cfg, device)
        optim.zero_grad()
        loss.backward()
        optim.step()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        if k >= 2:  # the first steps allocate and warm up
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def time_decoding(size_trip: int, size_pair: int, n: int = 40) -> tuple[float, float, float]:
    """Samples/s of decoding synthetic 224 px triplets (with augmentation) and 256 px pairs, and descriptor
    training points/s drawn from the same pairs (8 per pair, 6 negatives, at ``size_trip``)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "train"))
    from conftest import pair_samples, triplet_samples  # the tests' schema-exact synthetic samples

    from sketchgen.train.pairs import make_pair_decoder
    from sketchgen.train.points import make_point_decoder
    from sketchgen.train.triplets import make_triplet_decoder

    rng = np.random.default_rng(0)
    trips = triplet_samples(n, size=224)
    pairs = pair_samples(n, size=256)
    dec_t, dec_p = make_triplet_decoder(size_trip, augment=True), make_pair_decoder(size_pair)
    t0 = time.perf_counter()
    for s in trips:
        dec_t(s, rng)
    t1 = time.perf_counter()
    for s in pairs:
        dec_p(s, rng)
    t2 = time.perf_counter()
    points = sum(len(make_point_decoder(size_trip)(s, rng)) for s in pairs)
    t3 = time.perf_counter()
    return n / (t1 - t0), n / (t2 - t1), points / (t3 - t2)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--quick", action="store_true", help="CPU configurations only")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    dev = args.device
    print(f"device {dev}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    configs = [
        ("descriptor small CNN 64px, triplets", TrainConfig.from_flat("descriptor", "", "", backbone="small", size=64), 16),
        ("descriptor small CNN 64px, pair points (demo)",
         TrainConfig.from_flat("descriptor", "", "", backbone="small", size=64, loss="hardest", margin=0.5), 16),
        ("warp small CNN 128px, STN width 64 (demo)",
         TrainConfig.from_flat("warp", "", "", backbone="small", size=128, stn_width=64, stn_layers=2), 8),
    ]
    if not args.quick:
        configs += [
            ("descriptor ResNet-18 224px (SketchZooms)", TrainConfig.from_flat("descriptor", "", "", size=224),
             16 if args.device != "cpu" else 2),
            ("warp ResNet-18 256px, PSC's estimator", TrainConfig.from_flat("warp", "", "", size=256),
             8 if args.device != "cpu" else 2),
        ]
    with tempfile.TemporaryDirectory():
        for name, cfg, b in configs:
            cfg = cfg.resolved()
            points = "pair points" in name
            batch = (descriptor_batch(b, cfg.network.size, roles=2 + cfg.optim.negatives if points else 3)
                     if cfg.model == "descriptor" else warp_batch(b, cfg.network.size))
            repeats = 3 if dev == "cpu" and cfg.network.backbone == "resnet18" else 10
            s = time_steps(cfg, batch, dev, repeats)
            unit = ("points (x8 roles x3 zooms)" if points else "triplets (x3 roles x3 zooms)"
                    if cfg.model == "descriptor" else "pairs (both directions)")
            print(f"{name:<46} batch {b:>3}: {s * 1000:8.1f} ms/step  {b / s:8.1f} {unit}/s")
    # the descriptor's weights channels-last (build_model) against the default layout, alternated in one run,
    # on the demo's triplet batch (16 triplets x 8 roles: anchor, positive, 6 negatives)
    cfg = TrainConfig.from_flat("descriptor", "", "", backbone="small", size=64).resolved()
    batch = descriptor_batch(16, 64, roles=8)
    runs = {"channels-last": [], "contiguous": []}
    for _ in range(3):
        runs["channels-last"].append(time_steps(cfg, batch, dev, 6, torch.channels_last))
        runs["contiguous"].append(time_steps(cfg, batch, dev, 6, torch.contiguous_format))
    last, cont = (statistics.median(v) for v in runs.values())
    print(f"descriptor small CNN 64px, 8-role triplets, batch 16: channels-last {last * 1000:.0f} ms/step, "
          f"contiguous {cont * 1000:.0f} ms/step: {cont / last:.2f}x (medians of 3 alternated runs)")
    trip_s, pair_s, point_s = time_decoding(64, 128)
    print(f"decoding (one process): {trip_s:.0f} triplets/s (9 PNGs 224px, rotate+flip, to 64px), "
          f"{pair_s:.0f} pairs/s (256px to 128px with flow), {point_s:.0f} pair points/s (8 roles x 3 zooms "
          f"drawn at 64px)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
