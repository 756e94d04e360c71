"""Settings of ``match_availability``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from plugins.match_support import N_, weight_field

PLUGIN_ID = "match_availability"


class AvailabilitySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    weight: float = weight_field(1.0)
    unknown_score: float = Field(
        default=0.5,
        ge=0,
        le=1,
        title=N_("Score when times are unknown"),
        description=N_("Score of a pair where one of the two gave no time slots (0 to 1)"),
    )
