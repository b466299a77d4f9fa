"""libfed's benchmarks: speed and memory targets live here, never in timed tests.

Each module of this package exposes ``run(quick: bool) -> list[Row]``; `make bench`
runs them all and prints one table. A row names what was measured, the figure,
its unit, and the goal it is held against.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Row:
    """One measured figure."""

    name: str
    value: float
    unit: str
    goal: str = ""
    #: True when the figure meets the goal, None when there is no goal.
    met: bool | None = None
    note: str = ""
