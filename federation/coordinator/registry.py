"""The libraries of the network: registration, tokens, heartbeats and health checks."""

from __future__ import annotations

import asyncio
import logging
import re
import time

from federation.coordinator import auth
from federation.coordinator.model import Node, now
from federation.coordinator.nodes import NodeGateway
from federation.coordinator.store import CoordinatorStore
from federation.errors import AlreadyExists, InvalidArgument, PermissionDenied, Unauthenticated

log = logging.getLogger(__name__)

#: Failed health checks in a row before an up node counts as down.
DOWN_AFTER = 2
#: How long a recognised token is trusted without asking the database again: a
#: token replaced by `libfed coordinator rotate-token` (another process) stops
#: working within this many seconds.
TOKEN_CACHE_SECONDS = 10.0

_SYMBOL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class NodeRegistry:
    """Registers nodes and recognises them by their token."""

    def __init__(self, store: CoordinatorStore, secret: str, catalog=None) -> None:
        self.store = store
        self._secret = secret
        self.catalog = catalog
        self._known: dict[str, tuple[str, float]] = {}
        self.token_cache_seconds = TOKEN_CACHE_SECONDS
        self._failures: dict[str, int] = {}

    async def add_node(
        self, symbol: str, name: str, grpc_address: str, oai_url: str, priority: int = 0
    ) -> str:
        """Register a node and return its token (shown once, stored only as a hash).

        The node also becomes a harvest source of the union catalog, named by its symbol.
        """
        if not _SYMBOL.match(symbol):
            raise InvalidArgument(f"{symbol!r} is not a library symbol (letters, digits, ., - and _)")
        _check_addresses(grpc_address, oai_url)
        if self.catalog is not None:
            known = {source.name: source for source in await self.catalog.sources()}
            for source in node_sources(symbol, oai_url):
                other = known.get(source.name)
                if other is not None and other.base_url != oai_url:
                    raise AlreadyExists(
                        f"a harvest source named {source.name} already exists for "
                        f"{other.base_url} (a partner library's server?); choose another symbol"
                    )
        token = auth.issue_token(self._secret, symbol)
        node = Node(symbol=symbol, name=name, grpc_address=grpc_address, oai_url=oai_url,
                    priority=priority, token_scheme=auth.SCHEME)
        await self.store.add_node(node, auth.hash_token(token), now())
        if self.catalog is not None:
            await self.register_source(node)
        log.info("registered node %s (%s) at %s", symbol, name, grpc_address)
        return token

    async def sync_peers(self, peers) -> None:
        """Enter coordinator.toml's ISO 18626 peers in the register, as they are configured
        now (ConfigError when one has a node's symbol). A peer taken out of the file
        stays for the history of its loans; the peer gateway no longer reaches it."""
        from federation.errors import ConfigError

        for peer in peers:
            if not _SYMBOL.match(peer.symbol):
                raise ConfigError(f"peer {peer.symbol!r}: not a library symbol "
                                  "(letters, digits, ., - and _)")
            node = Node(symbol=peer.symbol, name=peer.name or peer.symbol, grpc_address="",
                        oai_url="", priority=peer.priority, iso18626_url=peer.url,
                        agency_id=peer.agency_id)
            try:
                await self.store.save_peer(node, now())
            except AlreadyExists as error:
                raise ConfigError(f"peer {peer.symbol}: {error}; give the peer another symbol") \
                    from error
        if peers:
            log.info("ISO 18626 peers: %s", ", ".join(p.symbol for p in peers))
        for peer in peers:
            if not peer.security_code:
                log.warning("peer %s has no security_code: anyone who can reach /iso18626 "
                            "and knows its agency id %s can act for it", peer.symbol,
                            peer.agency_id)

    async def register_source(self, node: Node) -> None:
        """Make the node's OAI-PMH provider a harvest source of the union catalog
        (a peer's records come from the partner sources file instead)."""
        from federation.catalog.model import SourceState

        if self.catalog is None or node.is_peer:
            return
        known = {source.name for source in await self.catalog.sources()}
        for source in node_sources(node.symbol, node.oai_url):
            if source.name not in known:
                await self.catalog.save_source(
                    SourceState(name=source.name, library=source.library,
                                base_url=source.url, metadata_prefix=source.prefix)
                )

    async def authenticate(self, token: str | None) -> str:
        """The symbol of the node presenting ``token``; Unauthenticated otherwise."""
        if not token:
            raise Unauthenticated("no token: send 'authorization: Bearer <node token>'")
        digest = auth.hash_token(token)
        known = self._known.get(digest)
        if known is not None and known[1] > time.monotonic():
            return known[0]
        symbol = await self.store.node_for_token_hash(digest)
        if symbol is None:
            self._known.pop(digest, None)
            raise Unauthenticated("unknown token")
        self._known[digest] = (symbol, time.monotonic() + self.token_cache_seconds)
        return symbol

    async def rotate_token(self, symbol: str) -> str:
        """Replace a node's token (say it leaked) and return the new one, shown once.

        The old token stops opening the coordinator (within TOKEN_CACHE_SECONDS
        in a running one), and the coordinator presents the new one to the node,
        which must be given it (its coordinator.token) before it can talk again.
        """
        node = await self.store.node(symbol)
        generation = node.token_generation + 1
        token = auth.issue_token(self._secret, symbol, generation)
        await self.store.replace_token(symbol, generation, auth.hash_token(token), auth.SCHEME)
        self._known = {d: k for d, k in self._known.items() if k[0] != symbol}
        log.info("replaced the token of node %s (generation %d)", symbol, generation)
        return token

    async def update_node(
        self,
        symbol: str,
        *,
        name: str | None = None,
        grpc_address: str | None = None,
        oai_url: str | None = None,
        priority: int | None = None,
    ) -> Node:
        """Change what the central library registered about a node; the node as it is now."""
        _check_addresses(grpc_address, oai_url)
        changes = {
            column: value
            for column, value in (("name", name), ("grpc_address", grpc_address),
                                  ("oai_url", oai_url), ("priority", priority))
            if value is not None
        }  # fmt: skip
        await self.store.update_node(symbol, changes)
        node = await self.store.node(symbol)
        if oai_url is not None and self.catalog is not None:
            await self._move_sources(node)
        log.info("updated node %s: %s", symbol, ", ".join(changes) or "nothing")
        return node

    async def _move_sources(self, node: Node) -> None:
        """Point the node's harvest sources at its new OAI-PMH URL."""
        known = {source.name: source for source in await self.catalog.sources()}
        for source in node_sources(node.symbol, node.oai_url):
            state = known.get(source.name)
            if state is None:
                await self.register_source(node)
            elif state.base_url != source.url:
                # Another server: its checkpoint and `from` mean nothing there, so the
                # next harvest is a full one (which also removes what it no longer lists).
                state.base_url = source.url
                state.next_from = state.resumption_token = None
                state.run_from = state.run_response_date = None
                await self.catalog.save_source(state)

    async def heartbeat(
        self, caller: str, symbol: str, grpc_address: str, oai_url: str, record_count: int
    ) -> None:
        if symbol and symbol != caller:
            raise PermissionDenied(f"{caller} may not send heartbeats for {symbol}")
        await self.store.record_heartbeat(caller, grpc_address=grpc_address, oai_url=oai_url,
                                          record_count=record_count, at=now())

    async def check_health(self, gateway: NodeGateway) -> list[Node]:
        """Ask every node's gRPC health service at once and record what each said."""
        nodes = await self.store.nodes()

        async def check(node: Node) -> None:
            up, latency, error = await gateway.health(node)
            if up:
                self._failures.pop(node.symbol, None)
            else:
                failures = self._failures[node.symbol] = self._failures.get(node.symbol, 0) + 1
                # One slow answer on a busy machine does not make a node down.
                up = node.up and failures < DOWN_AFTER
            if up != node.up:
                log.info("node %s is now %s %s", node.symbol, "up" if up else "down", error)
            await self.store.record_health(node.symbol, up=up, latency_ms=latency, error=error,
                                           at=now())

        await asyncio.gather(*(check(node) for node in nodes))
        return await self.store.nodes()


def _check_addresses(grpc_address: str | None, oai_url: str | None) -> None:
    """InvalidArgument for an address a node cannot have (None: not given)."""
    if grpc_address is not None and ":" not in grpc_address:
        raise InvalidArgument(f"{grpc_address!r} is not HOST:PORT")
    if oai_url is not None and not oai_url.startswith(("http://", "https://")):
        raise InvalidArgument(f"{oai_url!r} is not an http(s) OAI-PMH base URL")


def node_sources(symbol: str, oai_url: str) -> list:
    """The harvest sources of one node: its MARC 21 records and its RUSMARC records.

    A node disseminates MARC 21 records as ``marc21`` and UNIMARC/RUSMARC records
    only in their own ``rusmarc`` format (never mislabelled as MARC 21), so a
    harvest of one prefix alone would leave a Russian branch's books out of the
    union catalog. A node without RUSMARC records answers noRecordsMatch, which
    is a successful, empty run.
    """
    from harvester.sources import Source

    return [
        Source(name=symbol, url=oai_url, library=symbol, prefix="marc21"),
        Source(name=f"{symbol}:rusmarc", url=oai_url, library=symbol, prefix="rusmarc"),
    ]

