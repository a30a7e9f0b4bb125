"""Materials and instrument types: what a lot or an instrument is, and the refusal text."""

from __future__ import annotations

import pytest

from workflows.materials import (
    EquipmentType,
    Material,
    equipment_type_of,
    parse_material,
    wrong_equipment,
    wrong_material,
)


def test_a_lot_of_the_fields_material_is_accepted():
    assert wrong_material("FP2404", "Ficoll-Paque", "density_gradient_medium",
                          Material.DENSITY_GRADIENT_MEDIUM) is None


def test_a_lot_of_another_material_is_refused_naming_both():
    assert wrong_material("FP2404", "Ficoll-Paque PREMIUM 1.077", "density_gradient_medium",
                          Material.DILUENT) == (
        "FP2404 is Ficoll-Paque PREMIUM 1.077, a density gradient medium; this field takes "
        "the diluent")
    assert "an anticoagulant" in wrong_material("HEP2401", "Heparin", "anticoagulant",
                                                Material.FILTER)


def test_a_lot_without_a_recorded_material_is_refused_until_one_is_recorded():
    message = wrong_material("OLD1", "Ficoll", "", Material.DENSITY_GRADIENT_MEDIUM)
    assert message is not None and "no material recorded" in message


@pytest.mark.parametrize(("kind", "expected"), [
    ("Centrifuge", EquipmentType.CENTRIFUGE),
    ("centrifuge Rotanta 460 R", EquipmentType.CENTRIFUGE),
    ("CliniMACS Plus", EquipmentType.CLINIMACS),
    ("CliniMACS Prodigy", EquipmentType.CLINIMACS),
    ("Fridge", None),
    ("", None),
    ("Mini centrifuge", None),  # its type is its first word
])
def test_an_instruments_type_is_the_first_word_of_its_kind(kind, expected):
    assert equipment_type_of(kind) is expected


def test_an_instrument_of_another_type_is_refused_naming_both():
    assert wrong_equipment("MACS-01", "CliniMACS Plus", EquipmentType.CENTRIFUGE) == (
        "MACS-01 is a CliniMACS instrument (CliniMACS Plus); this field takes a centrifuge")
    assert wrong_equipment("CF-01", "Centrifuge", EquipmentType.CENTRIFUGE) is None


def test_a_material_is_named_by_its_code_and_nothing_else():
    assert parse_material(" Diluent ") is Material.DILUENT
    with pytest.raises(ValueError, match="density_gradient_medium"):
        parse_material("Ficoll")
