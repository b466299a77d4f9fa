"""A library's reader register: cards and PINs stay at the node, PINs only as hashes."""

from __future__ import annotations

import argparse
import sqlite3

import grpc
import pytest
from libfed.v1 import patron_service_pb2, patron_service_pb2_grpc

from federation.cli.node_patrons import register_node_commands
from node.patrons import PatronRegister, add_patron_service
from tests.conftest import free_port

CSV = "card_number,pin,display_name,blocked\n1001,4321,Анна Петрова,\n1002,1111,Blocked Reader,yes\n,9999,No Card,\n"


async def test_a_reader_imported_from_csv_is_verified_by_card_and_pin(tmp_path):
    (tmp_path / "readers.csv").write_text(CSV, encoding="utf-8")
    register = await PatronRegister.open(tmp_path / "patrons.db")
    report = await register.import_csv(tmp_path / "readers.csv")
    assert (report.added, report.updated) == (2, 0)
    assert report.errors and ":4:" in report.errors[0]

    patron = await register.verify("1001", "4321")
    assert patron.display_name == "Анна Петрова"
    assert patron.patron_ref.startswith("p-") and "1001" not in patron.patron_ref
    assert (await register.verify(" 10-01 ", "4321")).patron_ref == patron.patron_ref
    await register.close()

    # the file holds no PIN in clear, only salted scrypt hashes
    with sqlite3.connect(tmp_path / "patrons.db") as db:
        hashes = [h for (h,) in db.execute("SELECT pin_hash FROM patrons")]
    assert all(h.startswith("scrypt$") and "4321" not in h for h in hashes)


async def test_re_import_replaces_the_pin(tmp_path):
    register = await PatronRegister.open(tmp_path / "patrons.db", scrypt_n=2**10)
    await register.import_rows([{"card_number": "7", "pin": "1"}])
    report = await register.import_rows([{"card_number": "7", "pin": "2"}])
    assert report.updated == 1
    await register.verify("7", "2")
    with pytest.raises(Exception, match="not recognised"):
        await register.verify("7", "1")
    await register.close()


async def test_the_patrons_service_never_says_whether_the_card_or_the_pin_was_wrong(tmp_path):
    (tmp_path / "readers.csv").write_text(CSV, encoding="utf-8")
    server = grpc.aio.server()
    register = await add_patron_service(server, tmp_path / "patrons.db")
    await register.import_csv(tmp_path / "readers.csv")
    port = server.add_insecure_port(f"127.0.0.1:{free_port()}")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = patron_service_pb2_grpc.PatronsStub(channel)
            ok = await stub.VerifyPatron(patron_service_pb2.VerifyPatronRequest(card_number="1001", pin="4321"))
            assert ok.patron_ref and ok.display_name == "Анна Петрова"
            details = []
            for card, pin in (("1001", "0000"), ("9999", "4321")):
                with pytest.raises(grpc.aio.AioRpcError) as caught:
                    await stub.VerifyPatron(patron_service_pb2.VerifyPatronRequest(card_number=card, pin=pin))
                assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
                details.append(caught.value.details())
            assert details[0] == details[1]
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stub.VerifyPatron(patron_service_pb2.VerifyPatronRequest(card_number="1002", pin="1111"))
            assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    finally:
        await server.stop(None)
        await register.close()


async def test_a_card_is_locked_after_five_wrong_pins(tmp_path):
    register = await PatronRegister.open(tmp_path / "patrons.db", scrypt_n=2**10)
    await register.import_rows([{"card_number": "5", "pin": "1234"}])
    for _ in range(5):
        with pytest.raises(Exception, match="not recognised"):
            await register.verify("5", "0000")
    with pytest.raises(Exception, match="not recognised"):
        await register.verify("5", "1234")
    await register.close()


def main(argv: list[str]) -> int:
    """`libfed node ...` as the lead wires it: our hook under a `node` group."""
    parser = argparse.ArgumentParser(prog="libfed")
    node = parser.add_subparsers(dest="command").add_parser("node")
    register_node_commands(node.add_subparsers(dest="node_command"))
    args = parser.parse_args(argv)
    return args.func(args)


def test_the_cli_imports_and_lists_readers(tmp_path, capsys):
    (tmp_path / "node.toml").write_text('[node]\nsymbol = "A"\nname = "Library A"\ndatabase = "data/holdings.db"\n', encoding="utf-8")
    (tmp_path / "readers.csv").write_text("card_number,pin,display_name\n1001,4321,Anna\n", encoding="utf-8")
    config = str(tmp_path / "node.toml")
    assert main(["node", "patrons", "import", "--config", config, str(tmp_path / "readers.csv")]) == 0
    assert (tmp_path / "data" / "patrons.db").exists()
    capsys.readouterr()
    assert main(["node", "patrons", "list", "--config", config, "--json"]) == 0
    out = capsys.readouterr().out
    assert '"card_number": "1001"' in out and "4321" not in out
