"""A strict test client for the node's OAI-PMH endpoint: every answer is XSD-checked."""

from __future__ import annotations

import re

import aiohttp
from lxml import etree

NS = {
    "oai": "http://www.openarchives.org/OAI/2.0/",
    "marc": "http://www.loc.gov/MARC21/slim",
    "mx": "info:lc/xmlns/marcxchange-v1",
    "dc": "http://purl.org/dc/elements/1.1/",
    "oai_dc": "http://www.openarchives.org/OAI/2.0/oai_dc/",
    "id": "http://www.openarchives.org/OAI/2.0/oai-identifier",
}
RESPONSE_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


class OaiClient:
    def __init__(self, url: str, schema: etree.XMLSchema) -> None:
        self.url = url
        self.schema = schema

    async def get(self, method: str = "GET", **params: str) -> etree._Element:
        return await self.request(list(params.items()), method)

    async def request(self, pairs: list[tuple[str, str]], method: str = "GET") -> etree._Element:
        async with aiohttp.ClientSession() as session:
            if method == "GET":
                response = await session.get(self.url, params=pairs)
            else:
                response = await session.post(self.url, data=pairs)
            async with response:
                assert response.status == 200
                assert response.content_type == "text/xml"
                body = await response.read()
        root = etree.fromstring(body)
        self.schema.assertValid(root)
        assert RESPONSE_DATE.match(root.findtext("oai:responseDate", namespaces=NS))
        return root


def error_code(root: etree._Element) -> str | None:
    error = root.find("oai:error", NS)
    return None if error is None else error.get("code")


def token_of(root: etree._Element) -> etree._Element | None:
    return root.find(".//oai:resumptionToken", NS)
