"""Resumption tokens: a signed keyset cursor, never an offset.

A token carries the list's filters and the (datestamp, id) of the last record
sent, so the next page starts right after it however the data changed in
between: nothing is skipped or repeated. The token is HMAC-signed with a secret
kept in the node's database, so a forged or edited token, or one issued by
another node, is refused as badResumptionToken; so is one older than the TTL.
Asking twice with the same token gives the same page.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import asdict, dataclass


class BadToken(Exception):
    """The token was not issued by this node, was altered, or has expired."""


@dataclass(slots=True, frozen=True)
class ListState:
    """Where a list request stands: its arguments and its position."""

    verb: str
    prefix: str
    set_spec: str | None
    start: int | None
    end: int | None
    last_datestamp: int
    last_id: str
    cursor: int
    complete: int
    issued: int = 0


class TokenCodec:
    """Encodes and checks tokens for one node (one secret)."""

    def __init__(self, secret: bytes, ttl: int) -> None:
        self._secret = secret
        self.ttl = ttl

    def encode(self, state: ListState) -> str:
        data = asdict(state)
        data["issued"] = state.issued or int(time.time())
        body = _b64(json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode())
        return f"{body}.{self._sign(body)}"

    def decode(self, token: str, verb: str, now: int | None = None) -> ListState:
        now = int(time.time()) if now is None else now
        body, _, mac = token.partition(".")
        if not body or not hmac.compare_digest(mac, self._sign(body)):
            raise BadToken("the resumptionToken was not issued by this repository")
        try:
            state = ListState(**json.loads(_unb64(body)))
        except (ValueError, TypeError) as error:
            raise BadToken("the resumptionToken is malformed") from error
        if state.verb != verb:
            raise BadToken(f"the resumptionToken belongs to {state.verb}, not {verb}")
        if state.issued + self.ttl < now:
            raise BadToken("the resumptionToken has expired; start the list again")
        return state

    def expires(self, state: ListState) -> int:
        return (state.issued or int(time.time())) + self.ttl

    def _sign(self, body: str) -> str:
        digest = hmac.new(self._secret, body.encode(), hashlib.sha256).digest()[:18]
        return _b64(digest)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
