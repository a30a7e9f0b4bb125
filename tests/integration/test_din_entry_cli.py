"""`lims label parse` reads the DIN as the label prints it, check character included."""

from __future__ import annotations

from typer.testing import CliRunner

from lims.cli import app
from workflows.isbt128 import check_character

DIN = "X999926000003"
K = check_character(DIN)


def test_label_parse_reads_the_eye_readable_din_as_printed_with_its_check_character():
    for typed in (f"X9999 26 000003 {K}", "X9999 26 000003", f"x9999 26 000003 {K.lower()}"):
        done = CliRunner().invoke(app, ["label", "parse", typed])

        assert done.exit_code == 0, done.output
        assert f"X9999 26 000003 [{K}]  ({DIN}, check character {K})" in done.output
        assert "read as       keyboard-entered DIN" in done.output


def test_label_parse_refuses_the_eye_readable_din_with_a_wrong_check_character():
    wrong = "A" if K != "A" else "B"

    done = CliRunner().invoke(app, ["label", "parse", f"X9999 26 000003 {wrong}"])

    assert done.exit_code == 1
    assert (f"scan_bad_check_character: DIN X9999 26 000003: check character {wrong} "
            f"does not match, expected {K}") in done.output
