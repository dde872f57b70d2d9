"""``sketchgen sample DATASET KEY --out DIR``: one sample made again alone, compared with the stored one."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "make one sample of a dataset again, alone, write its members and compare them with the stored ones"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", help="dataset folder (written by sketchgen triplets or pairs)")
    parser.add_argument("key", help="sample key, <shape>_<unit>_<index> (as in the shards)")
    parser.add_argument("--out", default=None, help="folder to write the regenerated members into")


def run(args) -> int:
    from sketchgen.datagen.regenerate import regenerate_key
    from sketchgen.datagen.shards import read_shard
    from sketchgen.files import atomic_write

    sample = regenerate_key(args.dataset, args.key)
    stored = None
    for shard in sorted(Path(args.dataset).glob("*/*.tar")):
        stored = next((s for s in read_shard(shard) if s["__key__"] == args.key), None)
        if stored is not None:
            break
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        for name, data in sample.items():
            if name != "__key__":
                atomic_write(out / f"{args.key}.{name}", data)
    if stored is None:
        print(f"sample {args.key}: made again ({len(sample) - 1} members); not found in the shards", file=sys.stderr)
        return 1
    stored = {k: v for k, v in stored.items() if k == "__key__" or not k.startswith("__")}  # not __shard__
    differ = sorted(n for n in set(sample) | set(stored) if sample.get(n) != stored.get(n))
    if differ:
        print(f"sample {args.key}: differs from the stored one in {', '.join(differ)}", file=sys.stderr)
        return 1
    print(f"sample {args.key}: identical to the stored one ({len(sample) - 1} members)", file=sys.stderr)
    return 0
