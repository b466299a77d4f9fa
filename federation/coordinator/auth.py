"""Tokens: how nodes and the coordinator recognise each other.

The trust exchange, in one place. ``libfed coordinator add-node`` issues the
node one token, ``T = HMAC-SHA256(coordinator secret, symbol)``. The same token
works both ways:

* the node presents ``T`` on every call to the coordinator
  (``authorization: Bearer T``); the coordinator keeps only ``SHA-256(T)`` in its
  database and finds the caller by that hash;
* the coordinator presents ``T`` on every loan call it makes to that node
  (OfferLoan, UpdateLoanStatus); the node compares it with the ``token`` that
  ``libfed node join`` wrote to its ``node.toml`` ``[coordinator]`` table.

So each library shares one secret with the coordinator and nothing with the
other libraries: node X's token is useless for talking to node Y. The
coordinator can present ``T`` without storing it because it re-derives it from
``coordinator.toml``'s secret (the master key: keep that file private). A new
secret replaces every token of the network at once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

#: Prefix of node tokens, so a token pasted in the wrong place is recognisable.
TOKEN_PREFIX = "lf1-"


def new_secret() -> str:
    """A fresh random secret (the coordinator's master key)."""
    return secrets.token_urlsafe(24)


def node_token(coordinator_secret: str, symbol: str, generation: int = 0) -> str:
    """The one token a node and the coordinator share.

    ``generation`` counts the times the token was replaced; each replacement
    gives a token nobody can derive from the old one without the secret.
    """
    message = symbol if generation == 0 else f"{symbol}#{generation}"
    digest = hmac.new(coordinator_secret.encode(), message.encode(), hashlib.sha256).hexdigest()
    return TOKEN_PREFIX + digest[:48]


#: What the coordinator presents to a node: the node's own token (see above).
coordinator_credential = node_token


def hash_token(token: str) -> str:
    """What the coordinator stores of a node's token."""
    return hashlib.sha256(token.encode()).hexdigest()


def bearer(metadata) -> str | None:
    """The bearer token of gRPC invocation metadata, if any."""
    for key, value in metadata or ():
        if key == "authorization" and isinstance(value, str) and value.startswith("Bearer "):
            return value[len("Bearer "):].strip()
    return None
