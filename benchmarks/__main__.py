"""`python -m benchmarks [NAME...] [--quick] [--records N]`: run the benchmarks, print a table."""

from __future__ import annotations

import argparse
import importlib
import inspect
import pkgutil
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from benchmarks import Row


def main() -> int:
    parser = argparse.ArgumentParser(description="libfed benchmarks")
    parser.add_argument("names", nargs="*", help="modules to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="smaller data, for a smoke run")
    parser.add_argument(
        "--records", type=int, metavar="N",
        help="catalog size, for the benchmarks that take one (catalog_backends)",
    )  # fmt: skip
    args = parser.parse_args()
    folder = Path(__file__).parent
    names = args.names or sorted(
        info.name for info in pkgutil.iter_modules([str(folder)]) if not info.name.startswith("_")
    )
    table = Table(title="libfed benchmarks")
    for column in ("benchmark", "value", "unit", "goal", "met", "note"):
        table.add_column(column)
    console = Console()
    for name in names:
        module = importlib.import_module(f"benchmarks.{name}")
        console.print(f"[bold]running {name}…[/bold]")
        sized = args.records and "records" in inspect.signature(module.run).parameters
        extra = {"records": args.records} if sized else {}
        rows: list[Row] = module.run(quick=args.quick, **extra)
        for row in rows:
            met = "" if row.met is None else ("yes" if row.met else "NO")
            table.add_row(row.name, f"{row.value:,.1f}", row.unit, row.goal, met, row.note)
    console.print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
