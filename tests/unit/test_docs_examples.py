"""docs/labels lists exactly the files `make examples` writes from the demo's labels."""

from __future__ import annotations

import re
from pathlib import Path

from scripts.regenerate_examples import SHOWN

DOCS = Path(__file__).resolve().parents[2] / "docs" / "labels"


def test_every_label_the_readme_names_is_one_the_regeneration_writes():
    readme = (DOCS / "README.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`([a-z_]+)\.png`", readme))

    assert named == set(SHOWN)
    assert {p.stem for p in DOCS.glob("*.png")} == set(SHOWN)
