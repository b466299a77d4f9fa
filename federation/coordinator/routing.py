"""Building a request's rota: who holds the work, who has a copy free, who should lend.

The rota is every library holding the cluster except the requester. All of them
are asked for availability at once, each with a short deadline; a node that is
down or silent stays in the rota as ``skipped`` with the reason, so staff can see
why it was not asked. The rest are ranked:

1. a free copy first (``available_count > 0``);
2. then load balancing, ReShare's idea: a library that has borrowed much and lent
   little should lend now (``(borrowed + 1) / (lent + 1)``), less a penalty for the
   loans it is supplying at the moment;
3. then the configured priority of the node (higher first), then the symbol, so
   the order is deterministic.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from federation.coordinator.model import Node, Outcome, RotaEntry
from federation.coordinator.nodes import Availability, NodeGateway

log = logging.getLogger(__name__)

#: How much one open loan lowers a lender's score.
OPEN_LOAN_PENALTY = 0.1


def balance_score(node: Node, open_loans: int) -> float:
    """Higher means "should lend next": borrowed much, lent little, busy with few loans."""
    return (node.borrowed + 1) / (node.lent + 1) - OPEN_LOAN_PENALTY * max(open_loans, 0)


def candidates(holdings: Iterable, requester: str) -> list[RotaEntry]:
    """One entry per holding library except the requester (its first record of the work)."""
    seen: dict[str, RotaEntry] = {}
    for holding in holdings:
        if holding.library == requester or holding.library in seen:
            continue
        seen[holding.library] = RotaEntry(position=0, lender=holding.library,
                                          record_id=holding.record_id)
    return list(seen.values())


async def availability_round(
    entries: list[RotaEntry], nodes: dict[str, Node], gateway: NodeGateway, timeout: float
) -> None:
    """Ask every candidate at once; fill in counts, or mark it skipped with the reason."""

    async def ask(entry: RotaEntry) -> None:
        node = nodes.get(entry.lender)
        if node is None:
            entry.outcome, entry.reason = Outcome.SKIPPED, "not a registered node"
            return
        try:
            found: Availability = await gateway.availability(node, entry, timeout)
        except Exception as error:  # noqa: BLE001 - any failure means "not now"
            code = getattr(error, "code", None)
            detail = code().name if callable(code) else type(error).__name__
            entry.outcome = Outcome.SKIPPED
            entry.reason = f"no availability answer within {timeout:g}s ({detail})"
            return
        entry.available_count = found.available_count
        entry.open_loans = found.open_loans
        entry.score = balance_score(node, found.open_loans)

    await asyncio.gather(*(ask(entry) for entry in entries))


def rank(entries: list[RotaEntry], nodes: dict[str, Node]) -> list[RotaEntry]:
    """Order the rota and number its positions from 1; skipped entries go last."""

    def key(entry: RotaEntry):
        skipped = entry.outcome is Outcome.SKIPPED
        node = nodes.get(entry.lender)
        priority = node.priority if node else 0
        return (skipped, entry.available_count <= 0, -entry.score, -priority, entry.lender)

    ordered = sorted(entries, key=key)
    for position, entry in enumerate(ordered, start=1):
        entry.position = position
    return ordered


async def build_rota(
    holdings: Iterable, requester: str, nodes: dict[str, Node], gateway: NodeGateway,
    timeout: float,
) -> list[RotaEntry]:
    """The ranked rota of a request for a work with these holdings."""
    entries = candidates(holdings, requester)
    await availability_round(entries, nodes, gateway, timeout)
    return rank(entries, nodes)
