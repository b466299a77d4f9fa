"""``POST /iso18626``: outside libraries' ISO 18626 messages, answered with confirmations.

A thin adapter: the body goes to the coordinator's ISO 18626 gateway
(:mod:`federation.coordinator.iso18626.inbound`) through the backend, and its
confirmation comes back as the response, HTTP 200 even for an ERROR
confirmation (the error is the confirmation's, as ISO 18626 peers expect). Only a
trouble of ours (the database unreachable) is HTTP 503: the message was fine,
and the peer sends it again later.
A GET says what the endpoint is, so a person or a health check can see it lives.
"""

from __future__ import annotations

from aiohttp import web

from federation.coordinator.iso18626.messages import MAX_BYTES
from federation.errors import Unavailable
from federation.web.render import BACKEND

PATH = "/iso18626"
XML = "application/xml"


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_post(PATH, exchange, name="iso18626")
    router.add_get(PATH, describe, name="iso18626_describe")


async def exchange(request: web.Request) -> web.Response:
    if (request.content_length or 0) > MAX_BYTES:
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_BYTES, actual_size=request.content_length)
    body = await request.read()  # the whole body, however many packets it came in
    try:
        answer = await request.app[BACKEND].iso18626(body)
    except Unavailable as error:
        # Our trouble, not the message's: the peer should send it again later.
        return web.Response(status=503, text=f"try again later: {error}\n",
                            headers={"Retry-After": "30"})
    return web.Response(body=answer, content_type=XML, charset="utf-8")


async def describe(request: web.Request) -> web.Response:
    return web.Response(
        text="ISO 18626 v1.2 endpoint of this libfed network: POST ISO18626Message XML here.\n",
        content_type="text/plain",
    )
