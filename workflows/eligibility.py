"""The NCT00713934 eligibility checklist (inclusion and exclusion criteria) as data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

INCLUSION: Mapping[str, str] = {
    "biopsy_cirrhosis": "Liver biopsy showing histological cirrhosis, Child-Pugh grade B or C",
    "alkaline_phosphatase_2x_3x": "Alkaline phosphatase between 2× and 3× normal",
    "sonography_cirrhosis": "Liver cirrhosis in sonography study",
    "udca_incomplete_response": "Incomplete response to UDCA after 6 months of treatment",
    "pregnancy_test_negative_or_na": "Negative pregnancy test (female patients of fertile age)",
    "written_consent": "Written consent",
}

EXCLUSION: Mapping[str, str] = {
    "hepatic_encephalopathy": "Active hepatic encephalopathy",
    "refractory_ascites": "Refractory ascites",
    "autoimmune_liver_disease": "Active autoimmune liver disease",
    "malignancy": "Hepatocellular carcinoma or other malignancy",
    "sepsis": "Sepsis",
    "extrahepatic_biliary_disease": "Significant extrahepatic biliary disease",
    "hiv_hbv_hcv": "HIV, HBV or HCV infection",
    "organ_failure": "Cardiac, renal or respiratory failure",
    "portal_thrombosis": "Active thrombosis of the portal or hepatic veins",
    "inr_above_2": "INR > 2",
}

# Each criterion as the trial registration words it: the yes/no question the physician
# answers on the enrolment screen. INCLUSION and EXCLUSION are the short names refusals use.
PROTOCOL_WORDS: Mapping[str, str] = {
    "biopsy_cirrhosis": "Liver biopsy showing histological cirrhosis, grade B or C "
                        "(Child-Pugh score)",
    "alkaline_phosphatase_2x_3x": "Alkaline phosphatase between 2× and 3× the normal value",
    "sonography_cirrhosis": "Liver cirrhosis in sonography study",
    "udca_incomplete_response": "Incomplete response to UDCA after 6 months of treatment",
    "pregnancy_test_negative_or_na": "Negative pregnancy test (female patients in fertile age)",
    "written_consent": "Written consent",
    "hepatic_encephalopathy": "Presence of active hepatic encephalopathy",
    "refractory_ascites": "Refractory ascites",
    "autoimmune_liver_disease": "Evidence of active autoimmune liver disease (e.g. gamma "
                                "globulin of more than 2 times the upper limit of normal, and "
                                "ALT > 3 times normal in patients with autoimmune hepatitis)",
    "malignancy": "Hepatocellular carcinoma or other malignancies",
    "sepsis": "Sepsis",
    "extrahepatic_biliary_disease": "Presence of significant extrahepatic biliary disease "
                                    "(e.g. CBD stone, PSC)",
    "hiv_hbv_hcv": "HIV, HBV or HCV infection",
    "organ_failure": "Cardiac, renal or respiratory failure",
    "portal_thrombosis": "Active thrombosis of the portal or hepatic veins",
    "inr_above_2": "INR > 2",
}
# What a question needs beside the protocol's words to be answered the one right way.
NOTES: Mapping[str, str] = {
    "pregnancy_test_negative_or_na": "Yes also when it does not apply: a man, or a woman not "
                                     "of fertile age.",
    "written_consent": "The patient signed the trial's written consent form.",
}

MARKERS = ("HIV", "HBV", "HCV")


@dataclass(frozen=True)
class EligibilityResult:
    eligible: bool
    reasons: tuple[str, ...]


def assess(checklist: Mapping[str, bool], markers: Mapping[str, str]) -> EligibilityResult:
    """Every inclusion criterion met, no exclusion present, and HIV/HBV/HCV all negative."""
    reasons: list[str] = []
    unknown = set(checklist) - set(INCLUSION) - set(EXCLUSION)
    if unknown:
        reasons.append(f"unknown checklist items: {', '.join(sorted(unknown))}")
    for key, text in INCLUSION.items():
        if key not in checklist:
            reasons.append(f"inclusion criterion not checked: {text}")
        elif checklist[key] is not True:
            reasons.append(f"inclusion criterion not met: {text}")
    for key, text in EXCLUSION.items():
        if key not in checklist:
            reasons.append(f"exclusion criterion not checked: {text}")
        elif checklist[key] is not False:
            reasons.append(f"exclusion criterion present: {text}")
    for marker in MARKERS:
        status = markers.get(marker, "").lower()
        if status != "negative":
            reasons.append(f"{marker} must be tested negative (is {status or 'not recorded'})")
    return EligibilityResult(not reasons, tuple(reasons))


def complete_checklist() -> dict[str, bool]:
    """A checklist of an eligible patient (for the seed and tests)."""
    return {**dict.fromkeys(INCLUSION, True), **dict.fromkeys(EXCLUSION, False)}
