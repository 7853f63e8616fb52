"""The office registry's model: an office of a level, checked when made.

Operators load the registry (``digitize offices import``); a clerk's scanner folder names an office
by its code, which :func:`digitize.models.check_office` checks.
"""

from __future__ import annotations

from dataclasses import dataclass

from digitize.errors import BadInputError
from digitize.i18n import _
from digitize.models import check_office, nfc, shown

#: How remote an office is (the plan exempts remote communes from intake coverage).
AREA_TYPES = ("urban", "rural", "remote")
#: An office works, or has merged into another (its results stay its own).
OFFICE_STATUSES = ("active", "merged")


@dataclass(frozen=True)
class Office:
    """An office of the registry (a row of the catalog's ``offices``), checked when made.

    The name is kept stripped and in NFC; ``merged_into`` only for a merged
    office, and never itself.
    """

    code: str
    name: str
    level: str
    area_type: str = "urban"
    status: str = "active"
    merged_into: str | None = None

    def __post_init__(self) -> None:
        check_office(self.code)
        check_office(self.level)
        if not isinstance(self.name, str) or not self.name.strip():
            raise BadInputError(_("office {code} needs a name", code=self.code))
        object.__setattr__(self, "name", nfc(self.name.strip()))
        if self.area_type not in AREA_TYPES:
            raise BadInputError(_("office {code}: area_type {value} must be one of {allowed}", code=self.code,
                                  value=shown(self.area_type), allowed=", ".join(AREA_TYPES)))
        if self.status not in OFFICE_STATUSES:
            raise BadInputError(_("office {code}: status {value} must be one of {allowed}", code=self.code,
                                  value=shown(self.status), allowed=", ".join(OFFICE_STATUSES)))
        if self.merged_into is not None:
            check_office(self.merged_into)
            if self.status != "merged" or self.merged_into == self.code:
                raise BadInputError(_("office {code}: merged_into is only for a merged office, and not itself",
                                      code=self.code))
