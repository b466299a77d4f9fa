"""Tokens: how nodes and the coordinator recognise each other.

The trust exchange, in one place:

* ``libfed coordinator add-node`` creates a *join token* for the node and prints it:
  ``<node secret>.<coordinator credential>``.
* The node presents the **node secret** on every call to the coordinator
  (``authorization: Bearer <node secret>``). The coordinator keeps only its
  SHA-256 hash, so its database alone cannot be used to impersonate a node.
* The coordinator presents the **coordinator credential** on every call it makes
  to that node (OfferLoan, UpdateLoanStatus, GetAvailability). It is derived as
  HMAC-SHA256(coordinator secret, node symbol): each node gets its own, so one
  node that leaks what it holds cannot pose as the coordinator to another node,
  and the coordinator does not need to store it.
* ``libfed node join --token <join token>`` splits the join token and writes both
  halves to the node's ``node.toml`` ``[coordinator]`` table (``token`` and
  ``coordinator_token``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from federation.errors import Unauthenticated


def new_secret() -> str:
    """A fresh random secret, URL-safe (never contains a dot)."""
    return secrets.token_urlsafe(24)


def hash_token(token: str) -> str:
    """What the coordinator stores of a node's secret."""
    return hashlib.sha256(token.encode()).hexdigest()


def coordinator_credential(coordinator_secret: str, symbol: str) -> str:
    """The token the coordinator presents to the node ``symbol``."""
    digest = hmac.new(coordinator_secret.encode(), symbol.encode(), hashlib.sha256).hexdigest()
    return f"c{digest[:40]}"


def join_token(node_secret: str, credential: str) -> str:
    """The one string an administrator hands to a library: both halves of the trust."""
    return f"{node_secret}.{credential}"


def split_join_token(token: str) -> tuple[str, str]:
    """``(node secret, coordinator credential)`` of a join token."""
    node_secret, dot, credential = token.strip().partition(".")
    if not dot or not node_secret or not credential:
        raise Unauthenticated("not a libfed join token (expected <node secret>.<coordinator credential>)")
    return node_secret, credential


def bearer(metadata) -> str | None:
    """The bearer token of gRPC invocation metadata, if any."""
    for key, value in metadata or ():
        if key == "authorization" and isinstance(value, str) and value.startswith("Bearer "):
            return value[len("Bearer "):].strip()
    return None
