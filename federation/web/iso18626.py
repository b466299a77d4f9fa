"""``POST /iso18626``: outside libraries' ISO 18626 messages, answered with confirmations.

A thin adapter: the body goes to the coordinator's ISO 18626 gateway
(:mod:`federation.coordinator.iso18626.inbound`) through the backend, and its
confirmation comes back as the response, HTTP 200 even for an ERROR
confirmation (the error is the confirmation's, as ISO 18626 peers expect).
A GET says what the endpoint is, so a person or a health check can see it lives.
"""

from __future__ import annotations

from aiohttp import web

from federation.coordinator.iso18626.messages import MAX_BYTES
from federation.web.render import BACKEND

PATH = "/iso18626"
XML = "application/xml"


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_post(PATH, exchange, name="iso18626")
    router.add_get(PATH, describe, name="iso18626_describe")


async def exchange(request: web.Request) -> web.Response:
    body = await request.content.read(MAX_BYTES + 1)
    answer = await request.app[BACKEND].iso18626(body)
    return web.Response(body=answer, content_type=XML, charset="utf-8")


async def describe(request: web.Request) -> web.Response:
    return web.Response(
        text="ISO 18626 v1.2 endpoint of this libfed network: POST ISO18626Message XML here.\n",
        content_type="text/plain",
    )
