"""Where the real-world data beside the project is found, in one place: ``../shared`` from the
repository's root (read-only, third-party, never committed). Tests that use it skip where it is absent:
``pytest.mark.skipif(not FIXTURES.is_dir(), ...)``.

- FIXTURES: small real-world inputs with their right answers in each README;
- CORPUS: real meshes (PSB, COSEG, PartNet-Mobility, trimesh's test models, classic test meshes);
- REALDATA: sketches drawn by people (SPG), for evaluation only.
"""

from pathlib import Path

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
FIXTURES = SHARED / "fixtures"
CORPUS = SHARED / "corpus"
REALDATA = SHARED / "realdata"
