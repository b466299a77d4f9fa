"""``/oai`` over aiohttp: GET and POST (form-encoded), always HTTP 200 with XML."""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl

from aiohttp import web

from node.oai.provider import OaiProvider

log = logging.getLogger(__name__)

_XML = "text/xml; charset=utf-8"


def oai_routes(provider: OaiProvider, path: str = "/oai") -> list[web.RouteDef]:
    """The routes serving the provider at ``path`` (add them to an aiohttp app)."""

    async def handle(request: web.Request) -> web.Response:
        pairs = list(request.query.items())
        if request.method == "POST":
            if request.content_type != "application/x-www-form-urlencoded":
                # OAI-PMH POST is form-encoded; anything else has no readable arguments.
                pairs = []
            else:
                try:
                    form = (await request.read()).decode("utf-8")
                    pairs = parse_qsl(form, keep_blank_values=True, errors="strict")
                except (UnicodeDecodeError, ValueError):
                    body = provider.error(str(request.url.with_query(None)), "badArgument",
                                          "the form's arguments are not UTF-8 (OAI-PMH 3.1.1.2)")
                    return web.Response(body=body, content_type="text/xml", charset="utf-8")
        base_url = str(request.url.with_query(None))
        body = await provider.respond(base_url, pairs)
        return web.Response(body=body, content_type="text/xml", charset="utf-8")

    return [web.get(path, handle), web.post(path, handle)]
