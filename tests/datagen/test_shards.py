import hashlib

from sketchgen.datagen.shards import read_shard, write_shard


def _samples(n):
    return [{"__key__": f"s{i:03d}", "json": f'{{"i": {i}}}', "a.png": bytes([i]) * 10} for i in range(n)]


def test_round_trip_and_byte_identical(tmp_path):
    a, b = tmp_path / "a.tar", tmp_path / "b.tar"
    assert write_shard(a, _samples(5)) == 5
    write_shard(b, _samples(5))
    assert hashlib.sha256(a.read_bytes()).hexdigest() == hashlib.sha256(b.read_bytes()).hexdigest()
    got = list(read_shard(a))
    assert [s["__key__"] for s in got] == [f"s{i:03d}" for i in range(5)]
    assert got[3]["a.png"] == bytes([3]) * 10 and got[3]["json"] == b'{"i": 3}'
    assert not list(tmp_path.glob(".*tmp*"))


def test_failed_write_leaves_nothing(tmp_path):
    def broken():
        yield _samples(1)[0]
        raise RuntimeError("worker died")
    path = tmp_path / "c.tar"
    try:
        write_shard(path, broken())
    except RuntimeError:
        pass
    assert not path.exists() and not list(tmp_path.iterdir())
