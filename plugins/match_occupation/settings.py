"""Settings of ``match_occupation``: its weight and the score for each ISCO-08 level."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from plugins.match_support import N_, weight_field

PLUGIN_ID = "match_occupation"

# Finest first: a pair in the same unit group is also in the same minor group, and so on,
# so a coarser level may not score more than a finer one.
LEVELS = ("same_unit_group", "same_minor_group", "same_sub_major_group", "same_major_group")


def _score(default: float, title: str, description: str) -> float:
    return Field(default=default, ge=0, le=1, title=title, description=description)


class OccupationSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    weight: float = weight_field(3.0)
    same_unit_group: float = _score(
        1.0,
        N_("Same occupation"),
        N_("Score when both name the same occupation code (0 to 1)"),
    )
    same_minor_group: float = _score(
        0.8,
        N_("Same minor group"),
        N_("Score when the occupations share their ISCO-08 minor group, e.g. 214 (0 to 1)"),
    )
    same_sub_major_group: float = _score(
        0.6,
        N_("Same sub-major group"),
        N_("Score when the occupations share their ISCO-08 sub-major group, e.g. 21 (0 to 1)"),
    )
    same_major_group: float = _score(
        0.3,
        N_("Same major group"),
        N_("Score when the occupations share only their ISCO-08 major group, e.g. 2 (0 to 1)"),
    )

    @field_validator(*LEVELS[1:])
    @classmethod
    def _not_above_the_finer_level(cls, value: float, info: ValidationInfo) -> float:
        finer = LEVELS[LEVELS.index(str(info.field_name)) - 1]
        if finer in info.data and value > info.data[finer]:
            raise ValueError(f"must not be more than {finer} ({info.data[finer]})")
        return value
