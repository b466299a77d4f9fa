"""`libfed records read|convert`: look at and convert MARC files (the CLI contract of issue 2).

Both commands take files or folders (read recursively), report every bad record
on stderr as ``PATH:#N: reason`` while going on with the next, end with a
summary line on stderr, and exit 0 (all good), 1 (some bad records; the good
ones are still written) or 2 (unusable arguments or unreadable files).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from federation.cli.common import EXIT_OK, EXIT_SOME_BAD, EXIT_USAGE, fail, print_json
from federation.records import (
    Record,
    RecordError,
    iter_file,
    to_iso2709,
    to_marcxml,
    to_oai_dc,
)

#: Files in a folder that are never records (notes, licences, manifests).
_SKIP_SUFFIXES = {".md", ".txt", ".tsv", ".csv", ".json", ".py", ".pdf", ".html", ".xsd"}
FORMATS = ("marcxml", "iso2709", "json", "oai_dc")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `records` command group."""
    parser = subparsers.add_parser(
        "records",
        help="read, check and convert MARC 21 / RUSMARC files",
        description="Read, check and convert MARC 21 and UNIMARC/RUSMARC records "
        "(ISO 2709 or MARCXML, any common encoding).",
    )
    commands = parser.add_subparsers(dest="records_command", metavar="COMMAND", required=True)

    read = commands.add_parser(
        "read",
        help="print the normalized records of MARC files",
        description="Print the normalized records of MARC files or folders. Bad records are "
        "reported on stderr as PATH:#N: reason. Exit 0: all read; 1: some bad; 2: unusable "
        "arguments or unreadable files.",
    )
    read.add_argument(
        "paths", nargs="+", metavar="PATH", help="ISO 2709 or MARCXML file, or folder"
    )
    read.add_argument("--json", action="store_true", help="one JSON object per record on stdout")
    read.set_defaults(func=read_command)

    convert = commands.add_parser(
        "convert",
        help="convert MARC files to MARCXML, ISO 2709, JSON or oai_dc",
        description="Convert records. marcxml: one MARC21slim <collection> (UNIMARC records "
        "keep their own fields); iso2709: UTF-8 ISO 2709; json: one object per line; "
        "oai_dc: one oai_dc:dc element per line.",
    )
    convert.add_argument(
        "paths", nargs="+", metavar="PATH", help="ISO 2709 or MARCXML file, or folder"
    )
    convert.add_argument("--to", required=True, choices=FORMATS, help="output format")
    convert.add_argument("-o", "--output", metavar="OUT", help="output file (default: stdout)")
    convert.set_defaults(func=convert_command)


@dataclass
class Tally:
    """What a run met: files, good and bad records, files it could not read."""

    files: int = 0
    good: int = 0
    bad: int = 0
    unreadable: list[str] = field(default_factory=list)

    def exit_code(self) -> int:
        if self.unreadable:
            return EXIT_USAGE
        return EXIT_SOME_BAD if self.bad else EXIT_OK

    def summary(self) -> str:
        text = (
            f"{self.good + self.bad} records in {self.files} files: "
            f"{self.good} read, {self.bad} bad"
        )
        if self.unreadable:
            text += f", {len(self.unreadable)} files unreadable"
        return text


def expand(paths: list[str], tally: Tally) -> list[Path]:
    """The files to read: files as given, folders walked in sorted order."""
    files: list[Path] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            files.extend(
                found
                for found in sorted(path.rglob("*"))
                if found.is_file()
                and not found.name.startswith(".")
                and found.suffix.lower() not in _SKIP_SUFFIXES
            )
        elif path.exists():
            files.append(path)
        else:
            tally.unreadable.append(name)
            fail(f"cannot read {name}: no such file or folder")
    return files


def records(paths: list[str], tally: Tally) -> Iterator[Record]:
    """Good records of all paths; bad ones reported on stderr and counted."""
    files = expand(paths, tally)
    with _Progress(files) as progress:
        for path in files:
            try:
                items = iter_file(path)
            except OSError as error:
                tally.unreadable.append(str(path))
                fail(f"cannot read {path}: {error.strerror or error}")
                progress.file_done(path)
                continue
            tally.files += 1
            for item in items:
                if isinstance(item, RecordError):
                    tally.bad += 1
                    sys.stderr.write(f"{item}\n")
                else:
                    tally.good += 1
                    yield item
                progress.record_done(tally.good + tally.bad)
            progress.file_done(path)


class _Progress:
    """A rich progress bar on stderr (bytes of files read, records so far).

    Only when stderr is a terminal and the run is long (five files or more, or
    over 5 MB): scripts reading stderr see nothing but the contract's lines.
    """

    def __init__(self, files: list[Path]) -> None:
        sizes = {path: _size(path) for path in files}
        self.sizes = sizes
        self.total = sum(sizes.values())
        self.enabled = sys.stderr.isatty() and (len(files) >= 5 or self.total > 5_000_000)
        self.progress = None
        self.task = None

    def __enter__(self) -> _Progress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import Progress

            # stdout carries the records: rich must not capture it.
            self.progress = Progress(
                console=Console(stderr=True), transient=True, redirect_stdout=False
            )
            self.progress.__enter__()
            self.task = self.progress.add_task("reading", total=self.total)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.progress is not None:
            self.progress.__exit__(*exc_info)

    def record_done(self, count: int) -> None:
        if self.progress is not None and count % 500 == 0:
            self.progress.update(self.task, description=f"reading: {count:,} records")

    def file_done(self, path: Path) -> None:
        if self.progress is not None:
            self.progress.advance(self.task, self.sizes.get(path, 0))


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def read_command(args: argparse.Namespace) -> int:
    """`libfed records read`."""
    tally = Tally()
    if args.json:
        for record in records(args.paths, tally):
            print_json(record.summary())
    else:
        _print_table(records(args.paths, tally))
    sys.stderr.write(f"libfed: {tally.summary()}\n")
    return tally.exit_code()


def _print_table(items: Iterator[Record]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(show_lines=False)
    for column in ("id", "schema", "title", "authors", "year", "isbn", "lang", "format"):
        table.add_column(column, overflow="fold")
    for record in items:
        table.add_row(
            record.id,
            record.schema,
            record.title,
            "; ".join(record.authors[:3]) + (" …" if len(record.authors) > 3 else ""),
            str(record.year or ""),
            record.isbns[0] if record.isbns else "",
            record.language or "",
            record.format,
        )
    if not table.row_count:
        return
    console = Console()
    if not console.is_terminal:
        # Piped to a file or a pager: no terminal width to respect.
        console = Console(width=200)
    console.print(table)


def convert_command(args: argparse.Namespace) -> int:
    """`libfed records convert`."""
    tally = Tally()
    try:
        out = open(args.output, "wb") if args.output else sys.stdout.buffer  # noqa: SIM115
    except OSError as error:
        return fail(f"cannot write {args.output}: {error.strerror or error}")
    try:
        _write(records(args.paths, tally), args.to, out, tally)
    finally:
        if args.output:
            out.close()
        else:
            out.flush()
    sys.stderr.write(f"libfed: {tally.summary()}\n")
    return tally.exit_code()


def _write(items: Iterator[Record], target: str, out: BinaryIO, tally: Tally) -> None:
    from lxml import etree

    if target == "marcxml":
        out.write(b'<?xml version="1.0" encoding="UTF-8"?>\n')
        out.write(b'<collection xmlns="http://www.loc.gov/MARC21/slim">\n')
        for record in items:
            out.write(to_marcxml(record) + b"\n")
        out.write(b"</collection>\n")
    elif target == "iso2709":
        for record in items:
            try:
                out.write(to_iso2709(record))
            except RecordError as error:
                tally.good -= 1
                tally.bad += 1
                sys.stderr.write(f"record {record.id}: not written: {error}\n")
    elif target == "json":
        import json

        for record in items:
            line = json.dumps(record.summary(), ensure_ascii=False, default=str)
            out.write(line.encode("utf-8") + b"\n")
    else:
        for record in items:
            out.write(etree.tostring(to_oai_dc(record), encoding="utf-8") + b"\n")
