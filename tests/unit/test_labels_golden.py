"""A rendered final label is byte-for-byte stable; regenerate with UPDATE_GOLDEN=1.

The golden bytes depend on reportlab and on the embedded DejaVu fonts: after
upgrading either, look at `python -m labels.examples docs/labels`, then run
`UPDATE_GOLDEN=1 pytest tests/unit/test_labels_golden.py` and commit the new file.
"""

from __future__ import annotations

import os
from pathlib import Path

from labels import LabelKind, render_pdf
from tests.unit.label_support import make_label

GOLDEN = Path(__file__).parent / "golden" / "final_label.pdf"


def test_two_renders_of_a_final_label_are_identical_and_match_the_golden_file():
    first = render_pdf(make_label(LabelKind.FINAL))
    second = render_pdf(make_label(LabelKind.FINAL))

    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.write_bytes(first)

    assert first == second
    assert first == GOLDEN.read_bytes(), "label output changed; see this module's docstring"
