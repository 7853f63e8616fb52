"""The types of the settings' values: what a TOML file and a ``DIGITIZE_*`` variable may say.

A file gives TOML types, a variable always text. pydantic's lax mode would take ``1`` for
``true`` and ``2.0`` for a whole number, its strict mode no text at all, so each type here
takes what a person may mean and refuses the rest; ranges are added where a field is
declared (``Annotated[Whole, Field(ge=0, le=256)]``).
"""

from __future__ import annotations

import math
import typing
from pathlib import Path
from typing import Annotated

from pydantic import BeforeValidator

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _flag(value: object) -> object:
    """``true``/``false``, or one of 1/0/yes/no/on/off as text (a variable); a number is refused."""
    if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
        return value.strip().lower() in _TRUE
    if not isinstance(value, bool):
        raise ValueError("not true or false")
    return value


def _whole(value: object) -> object:
    """A whole number, or its digits as text; a fraction (even ``2.0``) and a bool are refused."""
    if isinstance(value, str):
        return int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("not a whole number")
    return value


def _number(value: object) -> object:
    """A finite number, or one as text; a bool, nan and infinity are refused."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError("not a number")
    number = float(value.strip() if isinstance(value, str) else value)
    if not math.isfinite(number):
        raise ValueError("not a finite number")
    return number


def _text(value: object) -> object:
    """Text; a number is taken as its digits (a PIN or a label written without quotes)."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError("not text")
    return str(value)


def _optional(convert: typing.Callable[[object], object]) -> typing.Callable[[object], object]:
    """``convert``, with an empty value meaning "not set" (None)."""
    return lambda value: None if value in (None, "") else convert(value)


def _path(value: object) -> object:
    """A path, written as text."""
    if not isinstance(value, (str, Path)):
        raise ValueError("not a path")
    return Path(value)


def _items(value: object) -> object:
    """A list: a TOML array, or comma-separated text (a variable); empty items are dropped."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)):
        raise ValueError("not a list")
    return tuple(item.strip() if isinstance(item, str) else item for item in items if item != "")


Flag = Annotated[bool, BeforeValidator(_flag)]
Whole = Annotated[int, BeforeValidator(_whole)]
Number = Annotated[float, BeforeValidator(_number)]
Text = Annotated[str, BeforeValidator(_text)]
OptionalText = Annotated[str | None, BeforeValidator(_optional(_text))]
FolderPath = Annotated[Path, BeforeValidator(_path)]
OptionalPath = Annotated[Path | None, BeforeValidator(_optional(_path))]
Words = Annotated[tuple[Text, ...], BeforeValidator(_items)]
Paths = Annotated[tuple[FolderPath, ...], BeforeValidator(_items)]
