"""`libfed catalog sru-url`: what to give Koha, VuFind, yaz-client or a Z39.50 gateway.

The union catalog answers SRU at ``/sru`` on the coordinator's web server
(:mod:`federation.web.sru`). This command prints that address, taken from the
coordinator's ``web_listen`` (``--config``) or given whole (``--base``, for a
server behind a proxy or a public name), with the settings each kind of client
asks for and example URLs to try. Wired into the `catalog` group by
``register(catalog_subparsers)``.
"""

from __future__ import annotations

import argparse
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from federation.cli.common import EXIT_OK, fail, print_json
from federation.errors import LibfedError

#: Koha's "SRU search fields mapping" (its sru_fields): its search form's fields → our indexes.
KOHA_SRU_FIELDS = ("title=dc.title,author=dc.creator,isbn=bath.isbn,subject=dc.subject,"
                   "srchany=cql.serverChoice")  # fmt: skip
#: Addresses that mean "every interface": outside systems need the machine's name.
_ANY_HOST = ("", "0.0.0.0", "::", "[::]")
_LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


def register(catalog_subparsers: argparse._SubParsersAction) -> None:
    sru = catalog_subparsers.add_parser(
        "sru-url",
        help="the catalog's SRU address and what to give Koha, VuFind, yaz-client",
        description="Print the union catalog's SRU base URL (/sru on the coordinator's "
        "web server), the settings Koha, VuFind, yaz-client and Z39.50 gateways ask for, "
        "and example searches.",
    )
    where = sru.add_mutually_exclusive_group(required=True)
    where.add_argument("--config", type=Path, help="coordinator.toml (its web_listen)")
    where.add_argument(
        "--base", metavar="URL",
        help="the web server as others reach it, e.g. https://central.example "
        "(behind a proxy, or a public name)",
    )  # fmt: skip
    sru.add_argument("--json", action="store_true", help="the settings as one JSON object")
    sru.set_defaults(func=sru_url_command)


def sru_url_command(args: argparse.Namespace) -> int:
    try:
        base, note = _base_url(args)
    except (LibfedError, ValueError) as error:
        return fail(str(error))
    settings = sru_settings(base)
    if note:
        settings["note"] = note
    if args.json:
        print_json(settings)
    else:
        _print_settings(settings)
    return EXIT_OK


def _base_url(args: argparse.Namespace) -> tuple[str, str]:
    """The /sru URL, and a warning for a person when others may not reach it."""
    if args.base:
        parts = urlsplit(args.base)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"--base must be an http(s) URL, not {args.base!r}")
        base = args.base.rstrip("/")
        return (base if base.endswith("/sru") else base + "/sru"), ""
    from federation.coordinator.config import CoordinatorConfig

    listen = CoordinatorConfig.load(args.config).web_listen
    if not listen:
        raise ValueError(f"{args.config}: web_listen is empty, so there is no web server "
                         "and no /sru; set it, or give --base")  # fmt: skip
    host, _, port = listen.rpartition(":")
    note = ""
    if host in _ANY_HOST:
        host = socket.getfqdn()
    elif host in _LOOPBACK:
        note = (f"the web server listens on {listen}, this machine only: other systems "
                "cannot reach it (set web_listen to a public address, or --base)")  # fmt: skip
    return f"http://{host}:{port}/sru", note


def sru_settings(base: str) -> dict[str, Any]:
    """Everything a client's setup form asks for, and example URLs, for ``base``."""
    parts = urlsplit(base)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    database = parts.path.lstrip("/")

    def url(**params: str) -> str:
        return f"{base}?{urlencode(params)}"

    return {
        "base_url": base,
        "host": parts.hostname,
        "port": port,
        "database": database,
        "versions": ["1.1", "1.2", "2.0"],
        "record_schemas": {"marcxml": "MARC 21 with an 852 $a per holding library",
                           "rusmarc": "RUSMARC (UNIMARC) with an 899 $a per holding library",
                           "dc": "Dublin Core"},  # fmt: skip
        "examples": {
            "explain": url(version="1.2"),
            "title": url(version="1.2", operation="searchRetrieve", query="dc.title = история"),
            "isbn": url(version="1.2", operation="searchRetrieve",
                        query="bath.isbn = 9785888660577"),  # fmt: skip
            "newest_first": url(version="2.0", operation="searchRetrieve", recordSchema="dc",
                                query="dc.title = история sortBy dc.date/sort.descending"),
        },  # fmt: skip
        # In Koha's own names (Administration > Z39.50/SRU servers); a UNIMARC Koha
        # takes the RUSMARC records: syntax UNIMARC, sru_options ...,schema=rusmarc.
        "koha": {"servertype": "sru", "host": parts.hostname, "port": port, "db": database,
                 "syntax": "USMARC", "encoding": "utf8", "sru_options": "sru_version=1.2",
                 "sru_fields": KOHA_SRU_FIELDS},  # fmt: skip
        "vufind": {"base_url": base, "sru_version": "1.2", "record_schema": "marcxml"},
        "yaz_client": [f"open {base}", "querytype cql", "sru get 1.2",
                       "find dc.title = история", "show 1"],  # fmt: skip
        "zoomsh": ["set sru get", "set sru_version 1.2", f"connect {base}",
                   "find cql:dc.title = история", "show 0 1"],  # fmt: skip
        "z3950_gateway": f"an SRU backend (yazproxy and other SRU-to-Z39.50 bridges): {base}",
    }


def _print_settings(settings: dict[str, Any]) -> None:
    koha = settings["koha"]
    lines = [
        f"SRU base URL: {settings['base_url']}  (SRU {', '.join(settings['versions'])})",
        "",
        f"Koha (Administration > Z39.50/SRU servers > New SRU server): host {koha['host']}, "
        f"port {koha['port']}, database {koha['db']}, syntax MARC21 ({koha['syntax']}), "
        f"encoding {koha['encoding']}, options {koha['sru_options']}",
        f"  SRU search fields mapping: {koha['sru_fields']}",
        "  (a UNIMARC Koha: syntax UNIMARC, options sru_version=1.2,schema=rusmarc)",
        f"VuFind: base URL {settings['vufind']['base_url']}, SRU version 1.2, schema marcxml",
        "yaz-client: " + " | ".join(settings["yaz_client"]),
        "zoomsh: " + " | ".join(f'"{c}"' for c in settings["zoomsh"]),
        "Z39.50 gateway: " + settings["z3950_gateway"],
        "",
        "Try:",
        *(f"  {name}: {url}" for name, url in settings["examples"].items()),
    ]
    if settings.get("note"):
        lines += ["", f"Note: {settings['note']}"]
    print("\n".join(lines))
