"""Committing one harvested page: which records change, where they cluster, what to write.

A page is planned inside the storage's write transaction and written whole:

1. each incoming record is reduced to its match data (:mod:`.dedup`) *before*
   the transaction, so the lock is held only for database work and deciding;
2. a record whose match data did not change keeps its cluster (the cluster's
   display is refreshed); a changed or new one is (re)placed; a deleted one leaves;
3. a cluster that loses a member is re-evaluated: if two or more members remain,
   they are placed again, since the one that left may have been what joined them;
4. every touched cluster gets its summary and search row recomputed (:mod:`.merge`).

Cluster ids stay stable where they can: a record placed again in a cluster of
its own gets its old cluster id back when nobody else kept it.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass

from federation.catalog import jsontext
from federation.catalog.dedup import MatchData, Neighbourhood
from federation.catalog.merge import ClusterRow, Member, completeness, summarize
from federation.catalog.model import HarvestedRecord, QuarantinedRecord, SourceState
from federation.catalog.storage import CatalogStorage, PageWrite, RecordRow, StoredRecord
from federation.pickling import pickled_by_fields


def key_hash(key: str) -> int:
    """A dedup key as the 64-bit integer the storage indexes."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big", signed=True)


@pickled_by_fields
@dataclass(slots=True)
class Prepared:
    """An incoming record with everything computed that needs no database.

    Plain values only (no :class:`~federation.records.Record`, no XML tree), so a
    harvester can prepare a page in a worker process and send it over cheaply.
    """

    oai_identifier: str
    datestamp: str
    record_id: str
    schema: str
    raw_xml: bytes
    match: MatchData
    match_json: str
    digest: str
    normalized: dict
    normalized_json: str
    score: int
    keys: list[str]
    #: The keys as the storage indexes them, in the order of ``keys``.
    hashes: list[int]
    #: The library holding it, and the summary of a cluster it is alone in (what
    #: most records of a first harvest get): summarizing is the costliest step of
    #: a commit, and here it is done where the record is prepared (in a worker).
    library: str
    alone: ClusterRow


def prepare(harvested: HarvestedRecord, source: str, library: str) -> Prepared:
    match = MatchData.of(harvested.record, source)
    match_json = match.to_json()
    normalized = harvested.record.summary()
    keys = match.keys()
    score = completeness(harvested.record)
    return Prepared(
        oai_identifier=harvested.oai_identifier,
        datestamp=harvested.datestamp,
        record_id=harvested.record.id,
        schema=harvested.record.schema,
        raw_xml=harvested.raw_xml,
        match=match,
        match_json=match_json,
        digest=hashlib.blake2b(match_json.encode(), digest_size=12).hexdigest(),
        normalized=normalized,
        normalized_json=jsontext.dumps(normalized),
        score=score,
        keys=keys,
        hashes=[key_hash(key) for key in keys],
        library=library,
        alone=summarize(0, [Member(0, library, normalized, score)]),
    )


@dataclass(slots=True)
class CommitTimes:
    """Where a page's commit spent its time, in seconds (for the harvest's summary)."""

    #: Planning: reading the neighbourhood, deduplicating, summarizing clusters.
    deduplicating: float
    #: Taking the write lock, writing the rows and the search index, committing.
    storing: float


class PagePlan:
    """Decides what one page changes; see the module docstring for the steps."""

    def __init__(
        self,
        storage: CatalogStorage,
        source: SourceState,
        records: list[Prepared],
        deleted: list[str],
        quarantined: list[QuarantinedRecord],
    ) -> None:
        self.storage = storage
        self.source = source
        # The last copy of an identifier in a page wins; a record beats a deletion.
        self.records = list({p.oai_identifier: p for p in records}.values())
        incoming = {p.oai_identifier for p in self.records}
        self.deleted = [oai for oai in dict.fromkeys(deleted) if oai not in incoming]
        self.write = PageWrite(source=source, quarantined=list(quarantined))
        self.match: dict[int, MatchData] = {}
        self.origin: dict[int, int] = {}  # detached record → its old cluster
        self.to_place: list[int] = []
        self.touched: set[int] = set()
        self.page_members: dict[int, Member] = {}
        #: Page record → the summary it has alone in a cluster, made when it was prepared.
        self.alone: dict[int, ClusterRow] = {}
        #: Key hash → key, for every key of a record being placed.
        self.names: dict[int, str] = {}

    async def plan(self) -> PageWrite:
        stored = await self.storage.stored_records(
            self.source.name, [p.oai_identifier for p in self.records] + self.deleted
        )
        self.next_record, self.next_cluster = await self.storage.next_pks()
        self.first_new_cluster = self.next_cluster
        self._classify(stored)
        remnants = await self._split_shrunk_clusters()
        neighbourhood = await self._neighbourhood(remnants)
        self._place(neighbourhood, remnants)
        await self._summarize(neighbourhood)
        self.write.unquarantined = [p.oai_identifier for p in self.records] + self.deleted
        return self.write

    def _classify(self, stored: dict[str, StoredRecord]) -> None:
        """New, changed, unchanged and deleted records; keys to drop and add."""
        for p in self.records:
            old = stored.get(p.oai_identifier)
            pk = old.pk if old else self._new_record_pk()
            self.match[pk] = p.match
            cluster = old.cluster if old else 0
            if old and old.digest == p.digest:
                self.touched.add(old.cluster)
            else:
                if old:
                    self._detach(pk, old)
                self.to_place.append(pk)
                self.write.keys_added += [(h, pk) for h in p.hashes]
                self.names.update(zip(p.hashes, p.keys, strict=True))
            self.write.records.append(self._row(pk, p, cluster))
            self.page_members[pk] = Member(pk, self.source.library, p.normalized, p.score)
            if p.library == self.source.library:
                self.alone[pk] = p.alone
        for oai in self.deleted:
            old = stored.get(oai)
            if old:
                self._detach(old.pk, old)
                self.write.deleted.append(old.pk)

    def _detach(self, pk: int, old: StoredRecord) -> None:
        self.origin[pk] = old.cluster
        self.touched.add(old.cluster)
        self.write.keys_removed += [
            (key_hash(k), pk) for k in MatchData.from_json(old.match).keys()
        ]

    async def _split_shrunk_clusters(self) -> list[int]:
        """Members left in a cluster that lost one: two or more are placed again."""
        shrunk = set(self.origin.values())
        left: dict[int, list[int]] = defaultdict(list)
        for pk, cluster, _source in await self.storage.cluster_members(sorted(shrunk)):
            if pk not in self.origin:
                left[cluster].append(pk)
        remnants = [
            pk for cluster in sorted(left) if len(left[cluster]) > 1 for pk in left[cluster]
        ]
        for pk, match in (await self.storage.match_data(remnants)).items():
            self.match[pk] = MatchData.from_json(match)
        # A cluster keeping exactly one member keeps its id; the others are free
        # for the first of their former members placed on its own again.
        self.reusable = {cluster for cluster in shrunk if len(left[cluster]) != 1}
        for cluster in sorted(left):
            if len(left[cluster]) > 1:
                for pk in left[cluster]:
                    self.origin[pk] = cluster
        return remnants

    async def _neighbourhood(self, remnants: list[int]) -> Neighbourhood:
        """Everything the records to place can meet: candidates and their clusters."""
        placing = remnants + self.to_place
        names = self.names
        # The page's records never join their own source's records, so their keys
        # are looked up among other sources only; a remnant may meet any source.
        remnant_names = {key_hash(k): k for pk in remnants for k in self.match[pk].keys()}
        page_keys = [h for h in names if h not in remnant_names]
        names.update(remnant_names)
        key_hits: dict[str, set[int]] = defaultdict(set)
        source_of = {pk: self.source.name for pk in self.page_members}
        candidate_clusters: set[int] = set()
        gone = set(self.write.deleted)
        found = await self.storage.neighbours(page_keys, other_than=self.source.name)
        if remnant_names:
            found += await self.storage.neighbours(list(remnant_names))
        for n in found:
            if n.pk in gone:
                continue
            key_hits[names[n.key]].add(n.pk)
            if n.pk not in self.match:
                self.match[n.pk] = MatchData.from_json(n.match)
            candidate_clusters.add(n.cluster)
        cluster_of: dict[int, int | None] = {}
        for pk, cluster, source in await self.storage.cluster_members(sorted(candidate_clusters)):
            if pk not in gone:
                cluster_of[pk] = cluster
                source_of[pk] = source
        for pk in placing:
            cluster_of[pk] = None
        for pk, match in self.match.items():
            source_of.setdefault(pk, match.source)
        return Neighbourhood(self.match, source_of, cluster_of, dict(key_hits))

    def _place(self, neighbourhood: Neighbourhood, remnants: list[int]) -> None:
        reusable = self.reusable
        for pk in remnants + self.to_place:

            def new_cluster(pk: int = pk) -> int:
                old = self.origin.get(pk)
                if old in reusable:
                    reusable.discard(old)
                    return old
                return self._new_cluster_pk()

            cluster = neighbourhood.place(pk, new_cluster)
            reusable.discard(cluster)
            self.touched.add(cluster)
            if pk in self.page_members:
                continue
            self.write.moved.append((cluster, pk))
        rows = {row.pk: row for row in self.write.records}
        for pk in self.to_place:
            rows[pk].cluster = neighbourhood.cluster_of[pk]  # type: ignore[assignment]

    async def _summarize(self, neighbourhood: Neighbourhood) -> None:
        """Recompute the summary and search row of every touched cluster."""
        members: dict[int, list[Member]] = defaultdict(list)
        moved = {pk for _cluster, pk in self.write.moved}
        left = set(self.write.deleted) | set(self.page_members) | moved
        stored = sorted(c for c in self.touched if c < self.first_new_cluster)
        self.write.clusters_stored = stored
        for cluster, member in await self.storage.merge_members(stored):
            if member.pk in moved:
                members[neighbourhood.cluster_of[member.pk]].append(member)  # type: ignore[index]
            elif member.pk not in left:
                members[cluster].append(member)
        for row in self.write.records:
            members[row.cluster].append(self.page_members[row.pk])
        for cluster in sorted(self.touched):
            if members.get(cluster):
                self.write.clusters.append(self._summary(cluster, members[cluster]))
            elif cluster < self.first_new_cluster:
                self.write.clusters_removed.append(cluster)

    def _summary(self, cluster: int, members: list[Member]) -> ClusterRow:
        if len(members) == 1 and members[0].pk in self.alone:
            # Made for this record alone, and used once: its ids are set in place.
            row = self.alone.pop(members[0].pk)
            row.pk, row.best_pk = cluster, members[0].pk
            return row
        return summarize(cluster, members)

    def _row(self, pk: int, p: Prepared, cluster: int) -> RecordRow:
        return RecordRow(
            pk, self.source.name, p.oai_identifier, self.source.library, p.record_id,
            p.datestamp, p.schema, p.raw_xml, p.normalized_json, p.match_json,
            p.digest, p.score, cluster, self.source.full_run,
        )  # fmt: skip

    def _new_record_pk(self) -> int:
        self.next_record += 1
        return self.next_record - 1

    def _new_cluster_pk(self) -> int:
        self.next_cluster += 1
        return self.next_cluster - 1
