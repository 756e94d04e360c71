"""Settings of ``match_conflict``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from plugins.match_support import N_

PLUGIN_ID = "match_conflict"


class ConflictSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    same_employer: bool = Field(
        default=True,
        title=N_("Exclude the same employer"),
        description=N_(
            "Never pair a mentee with a mentor from their own employer; "
            "the same person is never paired with themselves in any case"
        ),
    )
