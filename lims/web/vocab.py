"""Names and units of computed figures, QC tests and audit actions, as the lab says them."""

from __future__ import annotations

from collections.abc import Mapping

COMPUTED: dict[str, tuple[str, str]] = {
    "duration_minutes": ("Harvest duration", "min"),
    "transport_minutes": ("Transport time", "min"),
    "hours_since_harvest": ("Time since harvest end", "h"),
    "net_volume_ml": ("Net volume (from weight)", "ml"),
    "tnc_in": ("TNC in", "cells"),
    "tnc_out": ("TNC out", "cells"),
    "rbc_in": ("RBC in", "cells"),
    "rbc_out": ("RBC out", "cells"),
    "tnc_recovery_pct": ("TNC recovery", "%"),
    "rbc_depletion_pct": ("RBC depletion", "%"),
    "mnc_total": ("Total MNC", "cells"),
    "viable_mnc": ("Viable MNC", "cells"),
    "cd34_cells": ("CD34+ cells", "cells"),
    "cd133_cells": ("CD133+ cells", "cells"),
    "viability_pct": ("Viability", "%"),
    "mnc_recovery_pct": ("MNC recovery", "%"),
    "pre_cd133_cells": ("CD133+ cells into selection", "cells"),
    "target_cells": ("Cells in target fraction", "cells"),
    "viable_cd133": ("Viable CD133+ cells", "cells"),
    "cd133_purity_pct": ("CD133+ purity", "%"),
    "cd133_recovery_pct": ("CD133+ recovery", "%"),
    "enrichment_factor": ("Enrichment factor", "×"),
    "log_depletion": ("Log depletion of non-target cells", "log"),
    "incubation_minutes": ("Labelling incubation", "min"),
    "run_minutes": ("CliniMACS run time", "min"),
    "total_cells": ("Total cells", "cells"),
    "final_volume_ml": ("Final volume", "ml"),
    "concentration_per_ml": ("Concentration", "cells/ml"),
    "viable_cells": ("Viable cells", "cells"),
    "viable_dose": ("Viable dose", "cells"),
    "dose_per_kg": ("Dose per kg body weight", "cells/kg"),
    "endotoxin_limit_eu_per_ml": ("Endotoxin limit for this product", "EU/ml"),
    "infusion_minutes": ("Infusion time", "min"),
}


def computed_rows(computed: Mapping[str, float]) -> list[tuple[str, float, str]]:
    """(label, value, unit) for each computed figure, in the order the rules gave them."""
    rows = []
    for name, value in computed.items():
        label, unit = COMPUTED.get(name, (name.replace("_", " "), ""))
        rows.append((label, value, unit))
    return rows


ACTIONS: dict[str, str] = {
    "product_created": "Harvest scheduled",
    "state_changed": "State changed",
    "step_recorded": "Step recorded",
    "limit_warning": "Warning against a limit",
    "container_created": "Container created",
    "witnessed": "Witnessed",
    "coi_mismatch": "WRONG SCAN refused",
    "label_printed": "Label printed",
    "label_reprinted": "Label REPRINTED",
    "label_verified": "Label scanned back",
    "label_verification_reset": "Label to be scanned back again",
    "qc_result": "QC result",
    "qc_corrected": "QC result corrected",
    "signed": "Signed",
}
