import pytest
import torch

from sketchgen.train.descriptor import Descriptor
from sketchgen.train.config import TrainConfig
from sketchgen.train.loop import train


def test_zoom_pooling_is_elementwise_across_zooms(monkeypatch):
    """Channel k of the descriptor is the max of channel k over the zooms. A pooling that reshapes the
    concatenation [z0|z1|z2] as (128, 3) and takes max(2) (SketchZooms' code) fails this."""
    model = Descriptor("small")
    b, z, d = 2, 3, 128
    gen = torch.Generator().manual_seed(0)
    per_zoom = torch.randn(b, z, d, generator=gen)
    per_zoom[:, 1, :64] += 5.0  # zoom 1 wins the first 64 channels, zoom 2 the last 64
    per_zoom[:, 2, 64:] += 5.0
    monkeypatch.setattr(model, "embed_zooms", lambda images: per_zoom.reshape(b * z, d))
    out = model(torch.zeros(b, z, 1, 8, 8))
    expected = torch.nn.functional.normalize(per_zoom.max(dim=1).values, dim=1)
    assert torch.allclose(out, expected, atol=1e-6)
    reshaped = torch.nn.functional.normalize(per_zoom.reshape(b, z * d).view(-1, d, 3).max(2).values, dim=1)
    assert not torch.allclose(out, reshaped, atol=1e-2)
    assert torch.allclose(out.norm(dim=1), torch.ones(b))


@pytest.mark.parametrize("loss", ["triplet", "infonce"])
def test_descriptor_loss_falls_on_a_tiny_set(tmp_path, synth, loss):
    synth.write_dataset(tmp_path / "data", "triplet", {"train": [16]}, size=32)
    cfg = TrainConfig.from_flat("descriptor", str(tmp_path / "data"), str(tmp_path / "run"), steps=40, batch_size=8, lr=1e-3,
                                backbone="small", size=32, log_every=1, checkpoint_every=1000, loss=loss)
    train(cfg)
    first, last = _first_and_last_losses(tmp_path / "run", 40, 8)
    assert last < 0.75 * first, (first, last)


def test_descriptor_loss_falls_on_the_points_of_a_tiny_pair_set(tmp_path, synth):
    # a pair set as descriptor data: points of the pairs' flow, negatives near the true match. B is A's
    # strokes shifted, so a point's positive zooms equal its anchor's: the margin must exceed what an
    # untrained network already gives the negatives (about 0.5 to 1) for the loss to have work to do
    synth.write_dataset(tmp_path / "data", "pair", {"train": [6]}, size=96)
    cfg = TrainConfig.from_flat("descriptor", str(tmp_path / "data"), str(tmp_path / "run"), steps=30, batch_size=8, lr=1e-3,
                                backbone="small", size=32, loss="hardest", margin=1.5, negatives=3, log_every=1,
                                checkpoint_every=1000)
    train(cfg)
    first, last = _first_and_last_losses(tmp_path / "run", 30, 6)
    assert last < 0.6 * first, (first, last)


def _first_and_last_losses(run, steps: int, k: int) -> tuple[float, float]:
    """Mean loss of a run's first and last ``k`` logged steps (every step logged; ``steps`` of them)."""
    rows = (run / "log.csv").read_text().splitlines()[1:]
    losses = [float(r.split(",")[1]) for r in rows]
    assert len(losses) == steps
    return sum(losses[:k]) / k, sum(losses[-k:]) / k
