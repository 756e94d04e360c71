"""What a plugin says about itself: ``PLUGIN = PluginInfo(...)`` in its module."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError


class NoSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PluginSettingsError(ValueError):
    """Settings that do not fit a plugin's schema; ``problems`` are (field, message)."""

    def __init__(self, plugin_id: str, problems: list[tuple[str, str]]) -> None:
        self.plugin_id = plugin_id
        self.problems = problems
        details = "; ".join(f"{field}: {message}" for field, message in problems)
        super().__init__(f"invalid settings for plugin '{plugin_id}': {details}")


@dataclass(frozen=True)
class PluginInfo:
    id: str
    name: str
    description: str
    version: str
    settings: type[BaseModel] = NoSettings

    def validate_settings(self, raw: dict[str, Any] | None) -> dict[str, Any]:
        """Return the settings normalised by the schema, or raise PluginSettingsError."""
        try:
            model = self.settings.model_validate(raw or {})
        except ValidationError as exc:
            problems = [
                (".".join(str(part) for part in error["loc"]) or "(settings)", error["msg"])
                for error in exc.errors()
            ]
            raise PluginSettingsError(self.id, problems) from None
        return model.model_dump(mode="json")

    def settings_schema(self) -> dict[str, Any]:
        return self.settings.model_json_schema()
