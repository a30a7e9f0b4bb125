"""Regenerate docs/labels and docs/batch-records from what the code prints: `make examples`.

Runs `lims init`, `lims seed --demo` and `lims demo` (in development) on a fresh SQLite
database in a temporary directory (its own audit key and checkpoints; the working tree is
untouched), then copies
what the demo printed: one label of each kind as a 300 dpi PNG into docs/labels (named as
docs/labels/README.md lists them) and the batch record of each arm as
docs/batch-records/<arm>-example.pdf. With `--review DIR` every label and every batch-record
page is also written there as PNG, to look at before committing.

    .venv/bin/python scripts/regenerate_examples.py [--docs docs] [--review DIR]
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pypdfium2

from labels.model import DEFAULT_TEXTS


@dataclass(frozen=True)
class Printed:
    """One row of a demo label folder's index.tsv."""

    pdf: Path
    arm: str
    label: str
    container: str
    markings: str


Pick = Callable[[Printed], bool]


def _kind(kind: str, arm: str = "CD133", also: Pick = lambda _row: True) -> Pick:
    return lambda row: row.arm == arm and row.label == kind and also(row)


# The file each label kind has in docs/labels, and which printed label shows it.
SHOWN: dict[str, Pick] = {
    "collection": _kind("collection"),
    "harvest": _kind("harvest"),
    "in_process": _kind("in_process", also=lambda r: r.container.startswith("CD133+")),
    "in_process_quarantine": _kind("in_process",
                                   also=lambda r: DEFAULT_TEXTS.quarantine in r.markings),
    "in_process_negative": _kind("in_process",
                                 also=lambda r: DEFAULT_TEXTS.not_for_infusion in r.markings),
    "qc_sample": _kind("qc_sample"),
    "final": _kind("final"),
    "final_bm_mnc": _kind("final", arm="BM-MNC"),
    "issue": _kind("issue"),
}


def run_demo(work: Path) -> Path:
    """The demo on a fresh database in `work`; returns its output folder."""
    lims = Path(sys.executable).with_name("lims")
    env = {**os.environ, "LIMS_ENVIRONMENT": "development",  # demo data: never production
           "LIMS_DATABASE_URL": f"sqlite:///{work / 'lims.db'}"}
    for args in (["init"], ["seed", "--demo"], ["demo", "--out", str(work / "demo-output")],
                 ["audit", "verify"]):
        subprocess.run([str(lims), *args], cwd=work, env=env, check=True,
                       stdout=subprocess.DEVNULL)
    return work / "demo-output"


def printed_labels(out: Path) -> list[Printed]:
    """Every label the demo printed for its administered products (arm from the record)."""
    arms = {}
    for record in (out / "batch-records").glob("*.pdf"):
        din, arm = record.stem.split("-", 1)
        arms[din] = arm
    rows = []
    for din, arm in sorted(arms.items()):
        folder = out / "labels" / din
        with (folder / "index.tsv").open(encoding="utf-8") as index:
            for row in csv.DictReader(index, delimiter="\t"):
                rows.append(Printed(folder / row["file"], arm, row["label"], row["container"],
                                    row["markings"]))
    return rows


def png(pdf: bytes, target: Path) -> None:
    """Every page of `pdf` at 300 dpi, grey: `target`, then `target-p2.png`, ..."""
    document = pypdfium2.PdfDocument(pdf)
    for number, page in enumerate(document, start=1):
        path = target if number == 1 else target.with_name(f"{target.stem}-p{number}.png")
        page.render(scale=300 / 72).to_pil().convert("L").save(path, dpi=(300, 300),
                                                                 optimize=True)
    document.close()


def regenerate(docs: Path, review: Path | None) -> int:
    with tempfile.TemporaryDirectory(prefix="lims-examples-") as work:
        out = run_demo(Path(work))
        rows = printed_labels(out)
        for folder in ("labels", "batch-records"):
            (docs / folder).mkdir(parents=True, exist_ok=True)
        missing = []
        for name, pick in SHOWN.items():
            row = next((r for r in rows if pick(r)), None)
            if row is None:
                missing.append(name)
                continue
            png(row.pdf.read_bytes(), docs / "labels" / f"{name}.png")
            print(docs / "labels" / f"{name}.png", "←", row.pdf.name)
        for record in sorted((out / "batch-records").glob("*.pdf")):
            arm = record.stem.split("-", 1)[1]
            shutil.copyfile(record, docs / "batch-records" / f"{arm}-example.pdf")
            print(docs / "batch-records" / f"{arm}-example.pdf", "←", record.name)
            if review is not None:
                png(record.read_bytes(), review / f"batch-record-{arm}.png")
        if review is not None:
            for row in rows:
                png(row.pdf.read_bytes(), review / f"{row.arm}-{row.pdf.stem}.png")
    if missing:
        print(f"the demo printed no label for: {', '.join(missing)}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=Path, default=Path("docs"))
    parser.add_argument("--review", type=Path, default=None,
                        help="also write every label and batch-record page here as PNG")
    args = parser.parse_args(argv)
    if args.review is not None:
        args.review.mkdir(parents=True, exist_ok=True)
    return regenerate(args.docs.resolve(), args.review.resolve() if args.review else None)


if __name__ == "__main__":
    raise SystemExit(main())
