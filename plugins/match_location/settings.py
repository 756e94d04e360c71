"""Settings of ``match_location``: the districts' centres and how far is too far."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.matching.features import fold
from plugins.match_location.districts import MUNICH
from plugins.match_support import N_, weight_field

PLUGIN_ID = "match_location"

Latitude = Annotated[float, Field(ge=-90, le=90)]
Longitude = Annotated[float, Field(ge=-180, le=180)]


class LocationSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    weight: float = weight_field(1.0)
    max_km: float = Field(
        default=15.0,
        gt=0,
        le=1000,
        title=N_("Distance that scores 0 (km)"),
        description=N_(
            "Districts this far apart or further score 0; closer ones score more, "
            "the same district 1"
        ),
    )
    unknown_score: float = Field(
        default=0.5,
        ge=0,
        le=1,
        title=N_("Score when a place is unknown"),
        description=N_("Score of a pair where one district is empty or not in the list (0 to 1)"),
    )
    districts: dict[str, tuple[Latitude, Longitude]] = Field(
        default_factory=lambda: dict(MUNICH),
        title=N_("Districts"),
        description=N_(
            "Each district's or town's name with the latitude and longitude of its centre "
            '(degrees), e.g. {"Maxvorstadt": [48.149, 11.566]}'
        ),
    )

    @field_validator("districts")
    @classmethod
    def _distinct_names(
        cls, value: dict[str, tuple[float, float]]
    ) -> dict[str, tuple[float, float]]:
        seen: dict[str, str] = {}
        for name in value:
            key = fold(name)
            if not key:
                raise ValueError("a district name is empty")
            if key in seen:
                raise ValueError(f"{seen[key]!r} and {name!r} are the same district")
            seen[key] = name
        return value

    def centres(self) -> dict[str, tuple[float, float]]:
        """Centres by folded name, as the district column's vocabulary spells them."""
        return {fold(name): point for name, point in self.districts.items()}
