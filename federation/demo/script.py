"""The demo's story: a handful of loans through their ISO 18626 lifecycle.

Every step is a `libfed` command, printed before it runs, so the output doubles
as a tutorial. One loan fails over: the first lender's staff find the shelf
empty (Unfilled, NotOnShelf) and the coordinator offers it to the next library.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from rich.console import Console

from federation.demo.network import FederationRun


@dataclass
class Work:
    cluster_id: str
    libraries: list[str]


async def clusters_held_by_many(catalog_path) -> list[Work]:
    """Clusters of the union catalog with their holding libraries, most-held first."""
    from federation.catalog import UnionCatalog

    works = []
    async with await UnionCatalog.open(catalog_path) as catalog:
        async for cluster in catalog.dump():
            libraries = sorted({m["library"] for m in cluster["members"]})
            if len(libraries) > 1:
                works.append(Work(cluster["cluster_id"], libraries))
    works.sort(key=lambda w: (-len(w.libraries), w.cluster_id))
    return works


class Story:
    """Runs the scripted loans against a started federation."""

    def __init__(self, run: FederationRun, console: Console) -> None:
        self.run = run
        self.console = console

    def step(self, symbol: str, *args: str) -> dict:
        """`libfed node <args> --config <symbol's node.toml> --json`, printed and run."""
        config = self.run.libraries[symbol].config
        shown = " ".join(["libfed node", args[0], "--config", f"{symbol.lower()}/node.toml",
                          *args[1:]])
        self.console.print(f"  [dim]$ {shown}[/dim]")
        out = self.run.cli("node", args[0], "--config", config, *args[1:], "--json")
        data = json.loads(out)
        lender = data.get("lender_symbol") or "—"
        action = data.get("last_requester_action")
        after = f", requester {action}" if action else ""
        self.console.print(f"    → {data['status']}{after} (lender {lender})")
        return data

    def pick(self, works: list[Work], requester: str, lenders: int, held_by: str = "") -> Work:
        """A work at least ``lenders`` other libraries hold (one of them ``held_by``)."""
        for work in works:
            others = [lib for lib in work.libraries if lib != requester]
            if held_by and held_by not in others:
                continue
            if requester in self.run.libraries and len(others) >= lenders:
                works.remove(work)
                return work
        raise LookupError(f"no work held by {lenders} libraries besides {requester}")

    def loan_to_completion(self, works: list[Work]) -> str:
        work = self.pick(works, "BL", 2)
        self.console.print(f"[bold]1. A reader at BL borrows a book held by "
                           f"{', '.join(lib for lib in work.libraries if lib != 'BL')}[/bold]")
        request = self.step("BL", "request", "--patron", "BL-1001", "--cluster", work.cluster_id,
                            "--pickup", "Reading Room")
        rid, lender = request["request_id"], request["lender_symbol"]
        self.step(lender, "ship", rid)
        self.step("BL", "receive", rid)
        self.step("BL", "return", rid)
        self.step(lender, "checkin", rid)
        return rid

    def copy_request(self, works: list[Work]) -> str:
        work = self.pick(works, "PUL", 1)
        self.console.print("[bold]2. A reader at PUL asks for a scan (Copy)[/bold]")
        request = self.step("PUL", "request", "--patron", "PUL-77", "--cluster",
                            work.cluster_id, "--copy")
        self.step(request["lender_symbol"], "ship", request["request_id"])
        return request["request_id"]

    def failover(self, works: list[Work]) -> str:
        work = self.pick(works, "DNB", 2)
        self.console.print("[bold]3. A loan fails over: the first lender cannot find the book"
                           "[/bold]")
        request = self.step("DNB", "request", "--patron", "DNB-4711", "--cluster",
                            work.cluster_id)
        rid, first = request["request_id"], request["lender_symbol"]
        moved = self.step(first, "answer", rid, "--reason", "NotOnShelf")
        self.step(moved["lender_symbol"], "ship", rid)
        return rid

    def russian_loan(self, works: list[Work]) -> str | None:
        try:
            work = self.pick(works, "NLR", 1, held_by="RSL")
        except LookupError:
            return None
        self.console.print("[bold]4. Читатель РНБ заказывает книгу из РГБ "
                           "(a reader at NLR borrows from RSL)[/bold]")
        request = self.step("NLR", "request", "--patron", "НЛР-42", "--cluster", work.cluster_id)
        self.step(request["lender_symbol"], "ship", request["request_id"])
        self.step("NLR", "receive", request["request_id"])
        return request["request_id"]

    def cancelled(self, works: list[Work]) -> str:
        work = self.pick(works, "GWU", 1)
        self.console.print("[bold]5. A reader at GWU changes their mind (Cancel)[/bold]")
        request = self.step("GWU", "request", "--patron", "GWU-5", "--cluster", work.cluster_id)
        self.step("GWU", "cancel", request["request_id"], "--reason", "no longer needed")
        return request["request_id"]

    def outside_partner(self, works: list[Work]) -> str | None:
        """A book only the outside partner holds, lent over ISO 18626 by its own system."""
        peers = set(self.run.peers)
        work = next((w for w in works if len(w.libraries) == 2 and peers & set(w.libraries)
                     and set(w.libraries) - peers <= set(self.run.libraries)), None)
        if work is None:
            return None
        works.remove(work)
        peer = next(iter(peers & set(work.libraries)))
        reader = next(iter(set(work.libraries) - peers))
        self.console.print(f"[bold]6. A reader at {reader} borrows from {peer}, a partner "
                           "outside the network whose ILL system speaks ISO 18626[/bold]")
        request = self.step(reader, "request", "--patron", f"{reader}-1002", "--cluster",
                            work.cluster_id)
        rid = request["request_id"]
        self.console.print(f"    {peer} confirmed the ISO 18626 request; its answers come "
                           "as supplyingAgencyMessages")
        self.wait_for(rid, "Loaned")
        self.step(reader, "receive", rid)
        self.step(reader, "return", rid)
        shown = self.wait_for(rid, "LoanCompleted")
        self.trail(shown)
        return rid

    def trail(self, shown: dict) -> None:
        self.console.print("    " + " → ".join(
            f"{e['action'] or e['to']} ({e['actor']})" for e in shown["history"]
            if e["from"] != e["to"] or e["action"]))

    def outside_borrower(self, works: list[Work]) -> str | None:
        """The partner's own staff ask the network for a book: an ISO 18626 request."""
        import urllib.parse
        import urllib.request

        peers = set(self.run.peers)
        work = next((w for w in works if not peers & set(w.libraries)
                     and set(w.libraries) <= set(self.run.libraries)), None)
        if work is None or not peers:
            return None
        works.remove(work)
        peer = sorted(peers)[0]
        desk = self.run.peers[peer].rsplit("/", 1)[0] + "/desk/borrow"
        self.console.print(f"[bold]7. {peer}'s own ILL system borrows {work.cluster_id} from "
                           "the network (an ISO 18626 request to /iso18626)[/bold]")
        self.console.print(f"  [dim]$ curl -d record_id={work.cluster_id} {desk}[/dim]")
        body = urllib.parse.urlencode({"record_id": work.cluster_id}).encode()
        with urllib.request.urlopen(desk, data=body, timeout=30) as answer:
            theirs = json.loads(answer.read())["request_id"]
        rid = self.network_id(desk.replace("/borrow", "/loans"), theirs)
        if not rid:
            return None
        request = self.wait_for(rid, "WillSupply")
        lender = request["lender"]
        self.console.print(f"    ({peer} calls it {theirs}; the network {rid})")
        self.step(lender, "ship", rid)
        self.wait_for(rid, "Loaned", action="ShippedReturn")
        shown = self.step(lender, "checkin", rid)
        self.trail(self.wait_for(rid, shown["status"]))
        return rid

    @staticmethod
    def network_id(loans_url: str, theirs: str, timeout: float = 30.0) -> str:
        """The network's id of a request the peer made, once the peer heard it."""
        import urllib.request

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with urllib.request.urlopen(loans_url, timeout=10) as answer:
                loan = json.loads(answer.read())["borrowed"].get(theirs, {})
            if loan.get("network_request_id"):
                return loan["network_request_id"]
            time.sleep(0.2)
        return ""

    def wait_for(self, request_id: str, status: str, timeout: float = 30.0,
                 action: str | None = None) -> dict:
        """`libfed request show` until the request reaches ``status`` (and the
        requester's ``action``): a peer's messages arrive in their own time."""
        deadline = time.monotonic() + timeout
        while True:
            shown = json.loads(self.run.cli("request", "show", request_id, "--config",
                                            self.run.coordinator_config, "--json"))
            reached = shown["status"] == status and (
                action is None or shown["last_requester_action"] == action)
            if reached or time.monotonic() > deadline:
                self.console.print(f"    → {shown['status']} (lender {shown['lender'] or '—'})")
                return shown
            time.sleep(0.2)
