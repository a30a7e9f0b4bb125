"""Print the count of tests that passed in each JUnit report `make test` wrote."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def counts(path: Path) -> tuple[int, int, int, int]:
    """(passed, failed, errors, skipped) of one JUnit report."""
    tests = failed = errors = skipped = 0
    for suite in ET.parse(path).getroot().iter("testsuite"):
        tests += int(suite.get("tests", 0))
        failed += int(suite.get("failures", 0))
        errors += int(suite.get("errors", 0))
        skipped += int(suite.get("skipped", 0))
    return tests - failed - errors - skipped, failed, errors, skipped


def main(paths: list[str]) -> int:
    total = 0
    for name in paths:
        path = Path(name)
        if not path.exists():
            print(f"{path.stem}: no report (run skipped)")
            continue
        passed, failed, errors, skipped = counts(path)
        total += passed
        print(f"{path.stem}: {passed} passed, {failed} failed, {errors} errors, "
              f"{skipped} skipped")
    print(f"{total} tests passed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
