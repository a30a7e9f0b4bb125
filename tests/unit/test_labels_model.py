"""What each kind of label carries, and the exact strings its symbols must scan as."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pytest

from labels import Element, LabelKind, barcodes, elements_for
from labels.model import DEFAULT_TEXTS, LabelTexts
from labels.timefmt import local_text, utc_text, zone_abbreviation
from tests.unit.label_support import EXPIRY, make_label
from workflows.isbt128 import parse_scan


def test_a_final_label_barcodes_are_din_product_code_expiry_and_a_compound_data_matrix():
    label = make_label(LabelKind.FINAL)

    found = [(b.symbology, b.data) for b in barcodes(label)]

    assert found == [
        ("code128", "=X99992600012300"),
        ("code128", "=<D0006100"),
        ("code128", "&>0263292340"),  # 20:10 UTC is 23:40 in Tehran, day 329
        ("datamatrix", "=+04000=X99992600012300=<D0006100&>0263292340&*0263291140"),
    ]


def test_the_data_matrix_parses_back_to_the_labels_din_product_code_and_dates():
    label = make_label(LabelKind.FINAL)
    matrix = next(b.data for b in barcodes(label) if b.symbology == "datamatrix")

    scan = parse_scan(matrix)

    assert scan.compound
    assert scan.din == label.din and scan.flags == "00"
    assert scan.product_code == label.product_code
    assert scan.expiry == datetime(2026, 11, 25, 23, 40)
    assert scan.collection == datetime(2026, 11, 25, 11, 40)


def test_a_qc_tube_label_has_no_product_code_bar_code_and_no_dates():
    label = make_label(LabelKind.QC_SAMPLE, flags="07")

    found = [(b.symbology, b.data) for b in barcodes(label)]

    assert found == [
        ("code128", "=X99992600012307"),
        ("datamatrix", "=+02000=X99992600012307=<D0006100"),
    ]


def test_a_collection_label_carries_the_collection_time_but_no_expiry():
    label = make_label(LabelKind.COLLECTION, product="marrow_bag", flags="12")

    data = [b.data for b in barcodes(label)]

    assert data == [
        "=X99992600012312",
        "=<D0001100",
        "=+03000=X99992600012312=<D0001100&*0263291140",
    ]


def test_a_label_without_an_expiry_prints_no_expiry_bar_code():
    label = make_label(LabelKind.IN_PROCESS, product="mnc", expires_at=None)

    assert [b.caption for b in barcodes(label)] == ["DIN", "Product code", "Compound"]


@pytest.mark.parametrize(
    ("kind", "carries", "omits"),
    [
        (
            LabelKind.COLLECTION,
            {"collection", "patient_identifiers", "autologous", "product_description",
             "volume", "anticoagulant"},
            {"expiry", "statements", "dose"},
        ),
        (
            LabelKind.IN_PROCESS,
            {"expiry", "container", "product_description", "autologous"},
            {"statements", "dose", "collection"},
        ),
        (
            LabelKind.QC_SAMPLE,
            {"din_barcode", "product_code_text", "subject_id"},
            {"product_code_barcode", "patient_name", "patient_identifiers", "expiry"},
        ),
        (
            LabelKind.FINAL,
            {
                "expiry",
                "collection",
                "statements",
                "storage",
                "dose",
                "processing_facility",
                "collection_facility",
                "volume",
            },
            {"issue_block"},
        ),
        (LabelKind.ISSUE, {"issue_block", "expiry", "statements"}, set()),
    ],
)
def test_each_kind_of_label_carries_its_own_elements(kind, carries, omits):
    elements = elements_for(kind)

    assert carries <= elements
    assert not omits & elements


def test_an_issue_label_carries_everything_a_final_label_does():
    assert elements_for(LabelKind.FINAL) < elements_for(LabelKind.ISSUE)
    assert set(elements_for(LabelKind.ISSUE)) - set(elements_for(LabelKind.FINAL)) == {
        Element.ISSUE_BLOCK
    }


def test_a_label_refuses_a_naive_expiry():
    with pytest.raises(ValueError, match="timezone-aware"):
        make_label(expires_at=datetime(2026, 11, 25, 20, 10))


def test_a_label_refuses_an_unknown_time_zone():
    with pytest.raises(ValueError, match="unknown time zone"):
        make_label(time_zone="Mars/Olympus")


def test_a_label_refuses_malformed_flags():
    with pytest.raises(ValueError, match="flags"):
        make_label(flags="7")


def test_expiry_text_is_local_time_with_the_zone_abbreviation_and_utc_beneath():
    assert local_text(EXPIRY, "Asia/Tehran") == "2026-11-25 23:40 IRST"
    assert utc_text(EXPIRY) == "(2026-11-25 20:10 UTC)"
    assert local_text(EXPIRY, "Europe/Berlin") == "2026-11-25 21:10 CET"


def test_a_zone_without_an_abbreviation_is_shown_as_its_utc_offset():
    assert zone_abbreviation(EXPIRY, "Asia/Kathmandu") == "UTC+05:45"


def test_final_statements_follow_the_configured_wording():
    texts = LabelTexts(not_evaluated="NOT EVALUATED", investigational="IND only")

    assert texts.final_statements(not_evaluated=True) == (
        "NOT EVALUATED",
        "IND only",
        DEFAULT_TEXTS.identify_recipient,
    )
    assert texts.final_statements(not_evaluated=False, investigational=False) == (
        DEFAULT_TEXTS.identify_recipient,
    )


def test_the_default_wordings_are_the_documented_ones():
    assert DEFAULT_TEXTS.autologous == "FOR AUTOLOGOUS USE ONLY"
    assert DEFAULT_TEXTS.not_evaluated == "NOT EVALUATED FOR INFECTIOUS SUBSTANCES"
    assert make_label().storage_temperature.startswith("Store at 2–8 °C")
    assert replace(make_label(), reprint=True).reprint
