"""The node's OAI-PMH 2.0 data provider (``/oai``): verbs, tokens, errors, XML."""

from node.oai.http import oai_routes
from node.oai.provider import OaiProvider

__all__ = ["OaiProvider", "oai_routes"]
