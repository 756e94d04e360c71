"""Settings of ``match_seniority``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from plugins.match_support import N_, weight_field

PLUGIN_ID = "match_seniority"


class SenioritySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    weight: float = weight_field(1.0)
    margin: float = Field(
        default=3.0,
        gt=0,
        le=50,
        title=N_("Years ahead for the full score"),
        description=N_(
            "A mentor with this many more years of experience than the mentee scores 1; "
            "fewer score less, the same or fewer years 0"
        ),
    )
    hard: bool = Field(
        default=False,
        title=N_("Strict rule"),
        description=N_(
            "On: instead of a score, only mentors with at least as many years of "
            "experience as the mentee are proposed"
        ),
    )
