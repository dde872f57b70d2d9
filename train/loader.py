"""The batches a run reads: each model's stream of one split of its dataset, in a torch DataLoader."""

from __future__ import annotations

from torch.utils.data import DataLoader

from sketchgen.train.config import TrainConfig
from sketchgen.train.pairs import pair_stream
from sketchgen.train.points import point_stream
from sketchgen.train.triplets import triplet_stream


def make_loader(cfg: TrainConfig, start_step: int, split: str = "train", channels: int = 1) -> DataLoader:
    """The DataLoader of ``split``: the training split shuffled and repeated from ``start_step``; another
    split read once in order, without augmentation (validation). channels: 3 feeds pairs in colour (an
    RGB encoder), 1 as ink."""
    if split == "train":
        # the stream's epoch counter starts at the resumed step, so a resumed run does not replay the
        # augmentation draws it has already seen
        common = dict(shuffle=True, repeat=True, seed=cfg.run.seed, epoch=start_step)
        augment, workers = cfg.optim.augment, cfg.run.workers
    else:
        common = dict(shuffle=False, repeat=False, seed=cfg.run.seed, epoch=0)
        augment, workers = False, 0
    if cfg.model == "descriptor" and cfg.recorded.data_kind == "pairs":
        stream = point_stream(cfg.data, split, size=cfg.network.size, negatives=cfg.optim.negatives, **common)
    elif cfg.model == "descriptor":
        stream = triplet_stream(cfg.data, split, size=cfg.network.size, augment=augment, **common)
    else:
        stream = pair_stream(cfg.data, split, size=cfg.network.size, channels=channels, **common)
    return DataLoader(stream, batch_size=cfg.optim.batch_size, num_workers=workers, persistent_workers=workers > 0)

