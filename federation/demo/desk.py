"""The demo's library staff: lenders ship what they promised, borrowers receive it.

In a real network people do this at their desks (`libfed node ship`, `libfed
node receive`). In the demo nobody sits at the desks, so a book a reader
requests on the web pages would wait at "will supply" for ever. While the demo
runs, this desk acts for every library each round, on what has waited a whole
round, so the reader sees each step on "My requests": will supply → shipped →
received at the pickup library. Returning the book stays the reader's
library's business (`libfed node return`), as it would be.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from libfed.v1 import common_pb2 as c

from federation.demo.network import Library
from federation.errors import LibfedError

#: Seconds between two rounds of the desk.
ROUND_SECONDS = 8.0

_Key = tuple[str, int, int]


class Desk:
    """Acts for every library of a demo run, one round at a time."""

    def __init__(self, libraries: dict[str, Library], say: Callable[[str], None]) -> None:
        self.libraries = libraries
        self.say = say
        #: What each request looked like at the last round: act on it only if unchanged.
        self.waiting: set[_Key] = set()

    def round(self) -> None:
        """One round at every desk; a desk that fails now tries again next round."""
        asyncio.run(self._round())

    async def _round(self) -> None:
        from node import config as node_config
        from node.coordinator_link import CoordinatorLink

        seen: set[_Key] = set()
        for symbol, library in sorted(self.libraries.items()):
            try:
                async with CoordinatorLink.require(node_config.load(library.config)) as link:
                    seen |= await self.act_for(symbol, link)
            except LibfedError as error:
                self.say(f"desk of {symbol}: {error}")
        self.waiting = seen

    async def act_for(self, symbol: str, link) -> set[_Key]:
        """One library's desk: act on what has waited since the last round.

        Returns what the desk saw, for :attr:`waiting` at the next round."""
        seen: set[_Key] = set()
        for request in await link.list():
            key = (request.request_id, request.status, request.last_requester_action)
            seen.add(key)
            if key in self.waiting:
                await self._act(symbol, link, request)
        return seen

    async def _act(self, symbol: str, link, request) -> None:
        if request.lender_symbol == symbol and request.status == c.LOAN_STATUS_WILL_SUPPLY:
            await link.ship(request, note="shipped by the demo's desk")
            self.say(f"{symbol} ships {request.request_id} to {request.requester_symbol}")
        elif (
            request.requester_symbol == symbol
            and request.status == c.LOAN_STATUS_LOANED
            and request.last_requester_action == c.REQUESTER_ACTION_UNSPECIFIED
        ):
            await link.report_requester(
                request.request_id, c.REQUESTER_ACTION_RECEIVED, "received by the demo's desk"
            )
            self.say(f"{symbol} receives {request.request_id} for its reader")
