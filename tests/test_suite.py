"""The suite's own bookkeeping: the slow lane's list names tests that exist, the shared data is found."""

import re
from pathlib import Path

from conftest import SLOW_TESTS
from shared_data import CORPUS, FIXTURES, REALDATA, SHARED


def test_every_test_listed_as_slow_exists():
    defined = set()
    for path in Path(__file__).resolve().parent.rglob("test_*.py"):
        defined |= set(re.findall(r"^def (test_\w+)\(", path.read_text(), flags=re.M))
    assert SLOW_TESTS <= defined, sorted(SLOW_TESTS - defined)


def test_the_shared_data_is_looked_for_beside_the_repository():
    repo = Path(__file__).resolve().parents[1]
    assert (repo / "pyproject.toml").is_file() and SHARED == repo.parent / "shared"
    assert (FIXTURES.parent, CORPUS.parent, REALDATA.parent) == (SHARED, SHARED, SHARED)
