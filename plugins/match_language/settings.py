"""Settings of ``match_language``: the lowest level that counts, the meeting languages."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.reference import cefr, languages
from plugins.match_support import N_, weight_field

PLUGIN_ID = "match_language"


class LanguageSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    weight: float = weight_field(1.0)
    min_level: str = Field(
        default="B1",
        title=N_("Lowest level that counts"),
        description=N_(
            "A language is shared only if both speak it at least at this CEFR level (A1 to C2)"
        ),
    )
    languages: list[str] = Field(
        default_factory=list,
        title=N_("Meeting languages"),
        description=N_(
            "Languages the tandems may meet in, as ISO 639 codes (e.g. de, en); empty: any language"
        ),
    )
    required: bool = Field(
        default=True,
        title=N_("Require a shared language"),
        description=N_(
            "Only propose pairs who share a meeting language at the lowest level or higher"
        ),
    )

    @field_validator("min_level")
    @classmethod
    def _cefr(cls, value: str) -> str:
        return cefr.normalise(value)  # its message lists the levels

    @field_validator("languages")
    @classmethod
    def _iso_639(cls, value: list[str]) -> list[str]:
        known = [languages.normalise(code) for code in value]  # names the unknown code
        return list(dict.fromkeys(known))
