"""Results as flat rows (one per variant) for tables, CSV files and spreadsheets."""

from __future__ import annotations

import csv
import io
from typing import Any

from experiments.results import ExperimentResults, Lift

COLUMNS = (
    "variant", "is_control", "users", "exposures", "converters", "conversions",
    "conversion_rate", "revenue", "revenue_per_user",
    "cr_lift_abs", "cr_lift_abs_low", "cr_lift_abs_high",
    "cr_lift_rel", "cr_lift_rel_low", "cr_lift_rel_high", "cr_p_value",
    "rpu_lift_abs", "rpu_lift_abs_low", "rpu_lift_abs_high",
    "rpu_lift_rel", "rpu_lift_rel_low", "rpu_lift_rel_high", "rpu_p_value",
    "rpu_cuped_lift_abs", "rpu_cuped_lift_abs_low", "rpu_cuped_lift_abs_high", "rpu_cuped_p_value",
    "prob_beat_control", "srm_p_value", "trustworthy",
)  # fmt: skip


def _lift(prefix: str, p_key: str, lift: Lift | None, relative: bool = True) -> dict[str, Any]:
    if lift is None:
        return {}
    out = {
        f"{prefix}_abs": lift.absolute,
        f"{prefix}_abs_low": lift.absolute_ci[0],
        f"{prefix}_abs_high": lift.absolute_ci[1],
        p_key: lift.p_value,
    }
    if relative:
        out |= {
            f"{prefix}_rel": lift.relative,
            f"{prefix}_rel_low": lift.relative_ci[0],
            f"{prefix}_rel_high": lift.relative_ci[1],
        }
    return out


def flat_rows(results: ExperimentResults) -> list[dict[str, Any]]:
    """One dict per variant with every column of `COLUMNS` (None where not applicable)."""
    rows = []
    for v in results.variants:
        row: dict[str, Any] = dict.fromkeys(COLUMNS)
        row |= {
            "variant": v.name,
            "is_control": v.is_control,
            "users": v.users,
            "exposures": v.exposures,
            "converters": v.converters,
            "conversions": v.conversions,
            "conversion_rate": v.conversion_rate,
            "revenue": v.revenue,
            "revenue_per_user": v.revenue_per_user,
            "prob_beat_control": v.prob_beat_control,
            "srm_p_value": results.srm_p_value,
            "trustworthy": results.trustworthy,
        }
        row |= _lift("cr_lift", "cr_p_value", v.conversion_rate_lift)
        row |= _lift("rpu_lift", "rpu_p_value", v.revenue_per_user_lift)
        cuped = v.revenue_per_user_lift_cuped
        row |= _lift("rpu_cuped_lift", "rpu_cuped_p_value", cuped, relative=False)
        rows.append(row)
    return rows


def to_csv(results: ExperimentResults) -> str:
    """CSV text with a header; empty cells where a value does not apply or is undefined."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in flat_rows(results):
        writer.writerow({k: "" if _missing(v) else v for k, v in row.items()})
    return buffer.getvalue()


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and value != value)
