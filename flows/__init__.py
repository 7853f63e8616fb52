"""Prefect flows: thin wrappers that read the settings, call the libraries and record results."""

from __future__ import annotations

from pathlib import Path

from digitize.i18n import set_language
from digitize.settings import Settings, load_settings


def flow_settings(config: str | Path | None = None) -> Settings:
    """The settings, read at the flow's edge; messages from here on are in ``ui.language``."""
    settings = load_settings(config)
    set_language(settings.ui.language)
    return settings
