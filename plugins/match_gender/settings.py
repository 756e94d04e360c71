"""Settings of ``match_gender``: a hard rule by default, or a preference with a weight."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from plugins.match_support import N_, weight_field

PLUGIN_ID = "match_gender"


class GenderSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hard: bool = Field(
        default=True,
        title=N_("Keep the wish strictly"),
        description=N_(
            "On: a mentee who asked for a mentor of the same gender gets only such a "
            "mentor. Off: such mentors score higher, others may still be proposed"
        ),
    )
    weight: float = weight_field(2.0)
