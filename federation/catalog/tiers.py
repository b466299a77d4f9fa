"""A page of a big answer, ranked in parts: the same paging on every storage.

Ranking costs something for every hit (bm25 in FTS5, ts_rank in PostgreSQL), and
neither index prunes to the top k; so past ``rank_all_limit`` hits a storage does
not rank the whole answer for one page. It ranks parts of it, in this order:
first the hits whose title or authors match the whole query, then the others;
and a part bigger than the limit as its newest ``rank_all_limit`` clusters, then
the older ones. The parts partition the answer, so paging never repeats or
skips a hit, and a first page ranks at most ``rank_all_limit`` hits however
many there are. See docs/catalog.md, "A page never ranks more than 1,000 hits".

A storage's reader mixes in :class:`TieredPages` and supplies three queries:
``_count``, ``_ranked`` and ``_boundary``, in its own SQL.
"""

from __future__ import annotations

from dataclasses import dataclass

from federation.catalog.model import SearchResult

#: The columns of the first tier: a hit there matched in the title or authors.
TIER_COLUMNS = "{title authors authors_latin}"


@dataclass(frozen=True, slots=True)
class Part:
    """A piece of an answer: the hits of ``match`` whose pk is in [lowest, below)."""

    match: str
    lowest: int | None = None
    below: int | None = None


class TieredPages:
    """The paging of a big answer; the storage supplies the three queries."""

    rank_all_limit: int

    async def _count(self, part: Part, libraries: list[str]) -> int:
        """How many clusters of ``part`` every one of ``libraries`` holds."""
        raise NotImplementedError

    async def _ranked(self, part: Part, libraries: list[str], limit: int, offset: int) -> list[int]:
        """One page of ``part``'s hits, best first (ties: lower pk first)."""
        raise NotImplementedError

    async def _boundary(self, tier: str, libraries: list[str]) -> int | None:
        """The pk of the tier's ``rank_all_limit``-th newest hit; None when it has fewer."""
        raise NotImplementedError

    async def _answer(
        self, counts: dict[str, dict[str, int]], total: int, sampled: int,
        page: list[tuple[int, int]], rank_here: bool, match: str, libraries: list[str],
        limit: int, offset: int,
    ) -> SearchResult:
        """A search's answer from what its one statement counted: facets scaled up when
        they were counted on a sample, and the page's clusters (ranked in that statement
        when ``rank_here``, else ranked whole or by tiers here)."""
        estimated = sampled < total
        scale = total / sampled if estimated and sampled else 1
        facets = {
            name: {value: max(1, round(count * scale)) for value, count in _by_count(found)}
            for name, found in counts.items()
        }
        if rank_here:
            pks = [pk for _rank, pk in sorted(page)]
        elif total <= self.rank_all_limit:  # filtered down to a small answer: rank it all
            pks = await self._ranked(Part(match), libraries, limit, offset)
        else:
            pks = await self._tiered_page(match, libraries, limit, offset, total)
        return SearchResult(total, await self.summaries(pks), facets, estimated)

    async def summaries(self, pks: list[int]) -> list:
        raise NotImplementedError

    async def _tiered_page(
        self, match: str, libraries: list[str], limit: int, offset: int, total: int
    ) -> list[int]:
        """One page of a big answer: the title/author matches first, then the others;
        within each, the newest ``rank_all_limit`` clusters first, then the older
        ones; each part ranked. Sizes are counted only when a page starts past a
        part (a first page counts nothing)."""
        first = f"{TIER_COLUMNS} : ({match})"
        tiers = [first, f"({match}) NOT ({first})"]
        first_count: int | None = None
        pks: list[int] = []
        skip = offset
        for tier in tiers:
            known = None
            if skip:
                if first_count is None:
                    first_count = await self._count(Part(first), libraries)
                known = first_count if tier is first else total - first_count
            for part, size in await self._newest_first(tier, libraries, known):
                if len(pks) >= limit:
                    return pks
                if skip:
                    size = size if size is not None else await self._count(part, libraries)
                    if skip >= size:
                        skip -= size
                        continue
                pks += await self._ranked(part, libraries, limit - len(pks), skip)
                skip = 0
        return pks

    async def _newest_first(
        self, tier: str, libraries: list[str], count: int | None
    ) -> list[tuple[Part, int | None]]:
        """A tier as parts with their sizes (None: not counted): its newest
        ``rank_all_limit`` hits, then the rest — or one part when it is no bigger."""
        if count is not None and count <= self.rank_all_limit:
            return [(Part(tier), count)]
        boundary = await self._boundary(tier, libraries)
        if boundary is None:  # no bigger than the limit after all
            return [(Part(tier), count)]
        older = None if count is None else count - self.rank_all_limit
        return [
            (Part(tier, lowest=boundary), self.rank_all_limit),
            (Part(tier, below=boundary), older),
        ]


def _by_count(counts: dict[str, int]) -> list[tuple[str, int]]:
    """Facet values most frequent first (ties alphabetical)."""
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))
