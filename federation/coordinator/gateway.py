"""One way to every library of a rota, whatever it speaks.

Routing, deadlines and the outbox ask this object; it hands each call to the
gateway of the library's protocol: :class:`~federation.coordinator.nodes.NodeGateway`
(gRPC) for libfed nodes, :class:`~federation.coordinator.iso18626.client.PeerGateway`
(ISO 18626 over HTTP) for outside peers. Neither knows of the other.
"""

from __future__ import annotations

import asyncio

from federation.coordinator.iso18626.client import PeerGateway
from federation.coordinator.model import LoanRequest, Node, RotaEntry
from federation.coordinator.nodes import Availability, NodeGateway, OfferAnswer


class Gateway:
    """Dispatches each call by the library's protocol."""

    def __init__(self, nodes: NodeGateway, peers: PeerGateway) -> None:
        self.nodes = nodes
        self.peers = peers
        self.backoff = nodes.backoff
        #: Told of every call (method, outcome, seconds); /metrics listens.
        self.observers = nodes.observers
        peers.observers = nodes.observers

    def _for(self, node: Node) -> NodeGateway | PeerGateway:
        return self.peers if node.is_peer else self.nodes

    async def availability(self, node: Node, entry: RotaEntry, timeout: float) -> Availability:
        return await self._for(node).availability(node, entry, timeout)

    async def offer(self, node: Node, request: LoanRequest, entry: RotaEntry) -> OfferAnswer:
        return await self._for(node).offer(node, request, entry)

    async def deliver(self, node: Node, delivery) -> None:
        await self._for(node).deliver(node, delivery)

    async def health(self, node: Node, timeout: float = 2.0) -> tuple[bool, float | None, str]:
        return await self._for(node).health(node, timeout)

    def metadata_for(self, node: Node) -> tuple:
        return self.nodes.metadata_for(node)

    async def close(self) -> None:
        await asyncio.gather(self.nodes.close(), self.peers.close())
