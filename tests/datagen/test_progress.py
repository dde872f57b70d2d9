"""Progress: plain lines with totals and ETA when not on a terminal."""

import io

from sketchgen.datagen.progress import Progress, format_seconds


def test_plain_lines_carry_the_total_the_counters_and_an_eta(monkeypatch):
    clock = iter([0.0, 10.0, 20.0, 20.0, 20.0, 40.0, 40.0, 40.0])
    monkeypatch.setattr("sketchgen.datagen.progress.time.perf_counter", lambda: next(clock))
    out = io.StringIO()  # not a terminal: no tqdm bar, no carriage returns
    with Progress(4, "triplets", "shards", stream=out, interval_s=15.0) as bar:
        bar.update(1, samples=10)  # t=10: under the interval, nothing written
        bar.update(1, samples=25)  # t=20: 2 of 4 shards in 20 s -> 20 s left
        bar.update(2, samples=50)  # t=40: done
    lines = out.getvalue().splitlines()
    assert lines == ["triplets: 2/4 shards (50%), 25 samples, 20 s, ETA 20 s",
                     "triplets: 4/4 shards (100%), 50 samples, 40 s"]
    assert "\r" not in out.getvalue()


def test_nothing_is_written_when_disabled_or_when_the_job_ends_before_the_first_interval():
    out = io.StringIO()
    with Progress(3, "pairs", "shards", stream=out, enabled=False) as bar:
        bar.update(3)
    with Progress(3, "pairs", "shards", stream=out, interval_s=3600) as bar:
        bar.update(3)
    assert out.getvalue() == ""


def test_seconds_read_as_a_person_says_them():
    assert [format_seconds(s) for s in (4.4, 65, 7620)] == ["4 s", "1 min 05 s", "2 h 07 min"]
