"""Tokens: how nodes and the coordinator recognise each other.

The trust exchange, in one place. ``libfed coordinator add-node`` issues the
node one token, ``T = "lf2-" + R + "." + C``:

* ``R`` is random and known only to the node: the node presents the whole ``T``
  on every call to the coordinator (``authorization: Bearer T``), and the
  coordinator keeps only ``SHA-256(T)`` in its database and finds the caller by
  that hash. Nothing the coordinator keeps can make ``T`` again: a copy of its
  database or of its configuration opens no door as a node.
* ``C = HMAC-SHA256(coordinator secret, "coordinator:" + symbol + generation)`` is
  the coordinator's own credential for that node: it presents ``C`` on every call
  it makes to the node (OfferLoan, UpdateLoanStatus, VerifyPatron), and the node,
  which finds ``C`` in the token ``libfed node join`` stored, accepts loan calls
  only with it. ``C`` differs per node, so a node cannot pass itself off as the
  coordinator to another node; the coordinator re-derives it from
  ``coordinator.toml``'s secret instead of storing it.

``libfed coordinator rotate-token`` issues a new ``T`` (new ``R``, next
generation of ``C``). Nodes registered before this scheme (tokens ``lf1-…``,
one HMAC of the symbol used both ways) keep working until their token is
rotated.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

#: Prefix of node tokens, so a token pasted in the wrong place is recognisable.
TOKEN_PREFIX = "lf2-"
#: Tokens issued before the coordinator had a credential of its own.
LEGACY_PREFIX = "lf1-"
#: ``nodes.token_scheme`` of a node holding an ``lf2-`` token (1: a legacy one).
SCHEME = 2


def new_secret() -> str:
    """A fresh random secret (the coordinator's master key)."""
    return secrets.token_urlsafe(24)


def issue_token(coordinator_secret: str, symbol: str, generation: int = 0) -> str:
    """A new node token: a random part, then the coordinator's credential for the node."""
    credential = coordinator_credential(coordinator_secret, symbol, generation)
    return f"{TOKEN_PREFIX}{secrets.token_hex(20)}.{credential}"


def coordinator_credential(coordinator_secret: str, symbol: str, generation: int = 0) -> str:
    """What the coordinator presents to ``symbol``'s node (its own, not the node's token)."""
    message = f"coordinator:{symbol}#{generation}"
    digest = hmac.new(coordinator_secret.encode(), message.encode(), hashlib.sha256).hexdigest()
    return "lfc-" + digest[:48]


def legacy_token(coordinator_secret: str, symbol: str, generation: int = 0) -> str:
    """An ``lf1-`` token, used both ways: what the coordinator presents to a node
    registered before :func:`issue_token` (its ``nodes.token_scheme`` is 1)."""
    message = symbol if generation == 0 else f"{symbol}#{generation}"
    digest = hmac.new(coordinator_secret.encode(), message.encode(), hashlib.sha256).hexdigest()
    return LEGACY_PREFIX + digest[:48]


def hash_token(token: str) -> str:
    """What the coordinator stores of a node's token."""
    return hashlib.sha256(token.encode()).hexdigest()


def bearer(metadata) -> str | None:
    """The bearer token of gRPC invocation metadata, if any."""
    for key, value in metadata or ():
        if key == "authorization" and isinstance(value, str) and value.startswith("Bearer "):
            return value[len("Bearer "):].strip()
    return None
