"""``digitize rates`` commands (filled in by the rates work)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """No sub-commands yet."""
