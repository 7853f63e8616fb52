"""The targets of plan 4521/QĐ-UBND, kept as data (``rates/targets.toml``).

Each schedule is a rule (a baseline per level in the first year, a step in
percentage points per year, a cap) plus explicit overrides for one year and
level. :func:`load_schedule` reads the packaged file or another one of the same
shape; the targets are whole percentages.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from digitize.errors import ConfigError
from digitize.i18n import _, os_error

PACKAGED = "targets.toml"


@dataclass(frozen=True)
class TargetRule:
    """``min(cap, baseline[level] + step_points * (year - first_year))``, unless overridden."""

    first_year: int
    step_points: int
    cap: int
    baseline: dict[str, int]
    overrides: dict[int, dict[str, int]] = field(default_factory=dict)

    def target(self, level: str, year: int) -> int | None:
        """The target (percent) of ``level`` in ``year``; None before the first year or for an unknown level."""
        if year in self.overrides and level in self.overrides[year]:
            return self.overrides[year][level]
        if year < self.first_year or level not in self.baseline:
            return None
        return min(self.cap, self.baseline[level] + self.step_points * (year - self.first_year))


@dataclass(frozen=True)
class Schedule:
    """Both schedules of the plan: digitization of results in force, and intake coverage."""

    digitization: TargetRule
    intake_coverage: TargetRule
    exempt_area_types: tuple[str, ...] = ("remote",)

    def digitization_target(self, level: str, year: int) -> int | None:
        """Share (percent) of ``level``'s results in force that must be digitized in ``year``."""
        return self.digitization.target(level, year)

    def intake_target(self, level: str, year: int) -> int | None:
        """Share (percent) of ``level``'s non-exempt offices that must digitize at intake in ``year``."""
        return self.intake_coverage.target(level, year)


def load_schedule(path: Path | None = None) -> Schedule:
    """The schedule in ``path``, or the packaged one (plan 4521/QĐ-UBND) when ``path`` is None."""
    where = _("the packaged {file}", file=PACKAGED) if path is None else str(path)
    try:
        if path is None:
            text = resources.files("rates").joinpath(PACKAGED).read_text(encoding="utf-8")
        else:
            text = Path(path).read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except OSError as e:
        raise ConfigError(_("cannot read the target schedule {where}: {error}", where=where, error=os_error(e)),
                          hint=_("check the path given with --targets")) from e
    except UnicodeDecodeError as e:
        raise ConfigError(_("the target schedule {where} is not UTF-8 text; save it as UTF-8", where=where)) from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(_("the target schedule {where} is not valid TOML: {error}", where=where, error=e)) from e
    return parse_schedule(data, where)


def parse_schedule(data: dict[str, Any], where: str | None = None) -> Schedule:
    """A :class:`Schedule` from the decoded TOML ``data``; names the wrong key on error.

    ``where`` names the schedule in messages (a path, in the reader's words); default "the target schedule".
    """
    where = _("the target schedule") if where is None else where
    unknown = set(data) - {"digitization", "intake_coverage"}
    if unknown:
        raise ConfigError(_("{where}: unknown section(s) {names}; the sections are [digitization] and "
                            "[intake_coverage]", where=where, names=", ".join(sorted(unknown))))
    intake = dict(_table(data, "intake_coverage", where))
    exempt = intake.pop("exempt_area_types", ["remote"])
    if not isinstance(exempt, list) or not all(isinstance(a, str) for a in exempt):
        raise ConfigError(_("{where}: intake_coverage.exempt_area_types must be a list of area types, "
                            "e.g. [\"remote\"]", where=where))
    return Schedule(
        digitization=_rule(_table(data, "digitization", where), f"{where} [digitization]"),
        intake_coverage=_rule(intake, f"{where} [intake_coverage]"),
        exempt_area_types=tuple(exempt),
    )


def _table(data: dict[str, Any], name: str, where: str) -> dict[str, Any]:
    table = data.get(name)
    if not isinstance(table, dict):
        raise ConfigError(_("{where}: the section [{name}] is missing", where=where, name=name))
    return table


def _rule(table: dict[str, Any], where: str) -> TargetRule:
    unknown = set(table) - {"first_year", "step_points", "cap", "baseline", "overrides"}
    if unknown:
        raise ConfigError(_("{where}: unknown key(s) {names}; the keys are first_year, step_points, cap, "
                            "baseline and overrides", where=where, names=", ".join(sorted(unknown))))
    first_year = _int(table, "first_year", where, 1900, 9999)
    step = _int(table, "step_points", where, 0, 100)
    cap = _int(table, "cap", where, 0, 100)
    baseline = _percentages(table.get("baseline"), f"{where} baseline")
    overrides: dict[int, dict[str, int]] = {}
    raw = table.get("overrides", {})
    if not isinstance(raw, dict):
        raise ConfigError(_("{where}: overrides must be a table of years, e.g. [digitization.overrides.2025]",
                            where=where))
    for year, levels in raw.items():
        if not str(year).isdigit():
            raise ConfigError(_("{where}: override key {year!r} must be a year", where=where, year=year))
        overrides[int(year)] = _percentages(levels, f"{where} overrides.{year}")
    return TargetRule(first_year, step, cap, baseline, overrides)


def _int(table: dict[str, Any], key: str, where: str, low: int, high: int) -> int:
    value = table.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ConfigError(_("{where}: {key} must be a whole number from {low} to {high}, not {value!r}",
                            where=where, key=key, low=low, high=high, value=value))
    return value


def _percentages(levels: Any, where: str) -> dict[str, int]:
    if not isinstance(levels, dict) or not levels:
        raise ConfigError(_("{where}: give a percentage per level, e.g. tinh = 50", where=where))
    return {str(level): _int(levels, level, where, 0, 100) for level in levels}
