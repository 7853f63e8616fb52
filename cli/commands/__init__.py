"""Sub-commands of ``digitize``, one module per group; each has ``register(subparsers)``."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator, Sequence

from digitize.i18n import _


def whole_number(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse ``type``: a whole number from ``low`` (to ``high``), else a usage error (exit 2)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(_("{text!r} is not a whole number", text=text)) from None
        if value < low or (high is not None and value > high):
            if high is not None:
                message = _("{value} is out of range: give a whole number from {low} to {high}",
                            value=value, low=low, high=high)
            else:
                message = _("{value} is out of range: give a whole number of at least {low}", value=value, low=low)
            raise argparse.ArgumentTypeError(message)
        return value

    return parse


def table_lines(header: Sequence[str], rows: Sequence[Sequence[str]], *, right: Sequence[int] = (),
                max_last: int | None = None) -> Iterator[str]:
    """A plain-text table: columns padded to the widest cell as a terminal shows it (Vietnamese letters
    with their marks, wide characters), ``right`` columns aligned right, the last cut at ``max_last``."""
    from rich.cells import cell_len, set_cell_size

    widths = [max(cell_len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    if max_last is not None:
        widths[-1] = min(widths[-1], max_last)
    for row in (header, *rows):
        cells = []
        for i, (cell, width) in enumerate(zip(row, widths, strict=True)):
            text = set_cell_size(str(cell), width) if cell_len(str(cell)) > width else str(cell)
            padding = " " * (width - cell_len(text))
            cells.append(padding + text if i in right else text + padding)
        yield "  ".join(cells).rstrip()
