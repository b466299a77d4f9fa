"""A coordinator whose state is in PostgreSQL: backed up with pg_dump while it routes,
verified, refused while in use, restored all at once, and a damaged dump named."""

from __future__ import annotations

import json
from pathlib import Path

from libfed.v1 import common_pb2 as c

from federation.cli.main import main
from tests.coordinator.conftest import start_network, stop_network


def run(capsys, *args: str) -> tuple[int, dict]:
    capsys.readouterr()
    code = main([*args, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else {}


async def test_a_postgres_state_is_backed_up_verified_and_restored(tmp_path, postgres_url,
                                                                   capsys):
    net = await start_network(tmp_path, state_db=postgres_url)
    config = str(Path(net.config.home) / "coordinator.toml")
    branch = net.link("BRANCH")
    kept = await branch.submit("p-1", cluster_id="c-1")
    await net.link(kept.lender_symbol).report_supplier(kept.request_id, c.LOAN_STATUS_LOANED)
    try:
        code, taken = run(capsys, "backup", "coordinator", "--config", config, "--to",
                          str(tmp_path / "backups"), "--no-catalog")
        assert code == 0, taken
        folder = Path(taken["path"])
        manifest = json.loads((folder / "manifest.json").read_text())
        state = next(f for f in manifest["files"] if f["store"] == "state")
        assert state["file"] == "state.pgdump"
        assert state["tables"]["requests"] == 1 and state["tables"]["nodes"] == 4
        assert state["user_version"] == 1
        later = await branch.submit("p-2", cluster_id="c-2")  # after the backup
        code, checked = run(capsys, "verify", "backup", str(folder))
        assert code == 0, checked
        # The running coordinator holds the database: restore refuses.
        code, _ = run(capsys, "restore", "coordinator", "--config", config, "--no-catalog",
                      "--from", str(folder))
        assert code != 0
        assert (await net.coordinator.store.request(later.request_id)).request_id
    finally:
        await stop_network(net)
    code, restored = run(capsys, "restore", "coordinator", "--config", config, "--no-catalog",
                         "--from", str(folder))
    assert code == 0, restored
    code, verified = run(capsys, "verify", "coordinator", "--config", config, "--no-catalog",
                         "--backup", str(folder))
    assert code == 0, verified
    net = await start_network(tmp_path / "again", symbols=(), state_db=postgres_url)
    try:
        store = net.coordinator.store
        assert (await store.request(kept.request_id)).status.value == "Loaned"
        assert [r.request_id for r in await store.list_requests(None)] == [kept.request_id]
    finally:
        await stop_network(net)
    # A damaged dump is named, and nothing is restored from it.
    dump = folder / "state.pgdump"
    data = bytearray(dump.read_bytes())
    data[len(data) // 2] ^= 0xFF
    dump.write_bytes(bytes(data))
    code, checked = run(capsys, "verify", "backup", str(folder))
    assert code != 0
    assert "state.pgdump" in json.dumps(checked)
