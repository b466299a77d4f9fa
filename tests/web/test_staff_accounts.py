"""Staff accounts: made from the command line only, slow hashes, guessing locked out."""

from __future__ import annotations

import argparse
import io
import sqlite3

import pytest

from federation.cli.coordinator_users import register_coordinator_commands
from federation.coordinator.config import CoordinatorConfig
from federation.errors import InvalidArgument, Unauthenticated
from federation.web.staff import StaffStore


async def test_a_staff_account_logs_in_only_with_its_password(tmp_path):
    store = await StaffStore.open(tmp_path / "staff.sqlite", scrypt_n=2**10)
    assert await store.add_user("maria", "correct horse battery") is True
    assert await store.authenticate("maria", "correct horse battery") == "maria"
    with pytest.raises(Unauthenticated):
        await store.authenticate("maria", "Correct horse battery")
    with pytest.raises(Unauthenticated):
        await store.authenticate("nobody", "correct horse battery")
    with pytest.raises(InvalidArgument):
        await store.add_user("ivan", "short")
    with pytest.raises(InvalidArgument):
        await store.add_user("<script>", "long enough password")
    assert await store.add_user("maria", "a brand new password") is False
    assert await store.users() == ["maria"]
    await store.close()
    with sqlite3.connect(tmp_path / "staff.sqlite") as db:
        (stored,) = db.execute("SELECT password_hash FROM users").fetchone()
    assert stored.startswith("scrypt$") and "brand" not in stored


async def test_five_wrong_passwords_lock_the_account_for_a_while(tmp_path):
    store = await StaffStore.open(tmp_path / "staff.sqlite", scrypt_n=2**10)
    await store.add_user("maria", "correct horse battery")
    for _ in range(5):
        with pytest.raises(Unauthenticated):
            await store.authenticate("maria", "guess guess guess")
    with pytest.raises(Unauthenticated):
        await store.authenticate("maria", "correct horse battery")
    await store.close()


def test_add_user_from_the_command_line(tmp_path, monkeypatch, capsys):
    CoordinatorConfig.create(tmp_path / "coord")
    config = str(tmp_path / "coord" / "coordinator.toml")
    parser = argparse.ArgumentParser(prog="libfed")
    group = parser.add_subparsers(dest="command").add_parser("coordinator")
    register_coordinator_commands(group.add_subparsers(dest="coordinator_command"))

    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse battery\n"))
    args = parser.parse_args(["coordinator", "add-user", "--config", config, "maria", "--password-stdin"])
    assert args.func(args) == 0
    assert "created" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    args = parser.parse_args(["coordinator", "add-user", "--config", config, "ivan", "--password-stdin"])
    assert args.func(args) == 2
    assert "at least 10" in capsys.readouterr().err
    (tmp_path / "pw").write_text("another long password\n", encoding="utf-8")
    args = parser.parse_args(["coordinator", "add-user", "--config", config, "ivan",
                              "--password-file", str(tmp_path / "pw")])
    assert args.func(args) == 0
    args = parser.parse_args(["coordinator", "users", "--config", config, "--json"])
    assert args.func(args) == 0
    assert capsys.readouterr().out.strip().endswith('["ivan", "maria"]')
    assert (tmp_path / "coord" / "staff.sqlite").exists()
