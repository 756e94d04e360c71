"""Settings of ``match_capacity``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from plugins.match_support import weight_field

PLUGIN_ID = "match_capacity"


class CapacitySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    weight: float = weight_field(0.5)
