"""``coordinator.toml``: where the coordinator keeps its files and how patient it is.

Paths are relative to the directory of the file, so a coordinator directory can
be moved as a whole. Durations are seconds: days in production, seconds in tests.
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import tomli_w

from federation.backup.schedule import BackupPlan
from federation.coordinator.auth import new_secret
from federation.database_url import resolve
from federation.errors import ConfigError


@dataclass(slots=True)
class PeerConfig:
    """An outside library speaking ISO 18626 (a ReShare tenant, a Koha ILL backend).

    It lends and borrows like a node, over HTTP: ``url`` is its ISO 18626 endpoint,
    ``agency_id`` ("TYPE:VALUE", e.g. "ISIL:RU-MOS-12") how its messages name it.
    ``symbol`` is its name in rotas and the ``library`` of its records in the union
    catalog (harvest its OAI-PMH server as a partner source with that library).
    ``security_code``, when set, must come in its messages' header
    (requestingAgencyAuthentication) and goes in ours.
    """

    symbol: str
    url: str
    agency_id: str
    name: str = ""
    priority: int = 0
    security_code: str = ""


#: The ISO 18626 agency id of a network that set none of its own.
NETWORK_AGENCY = "LIBFED:NETWORK"


def peer_config(path: Path, number: int, table: object) -> PeerConfig:
    """One ``[[coordinator.peers]]`` table; ConfigError names the file and the peer."""
    where = f"{path}: peer #{number}"
    if not isinstance(table, dict):
        raise ConfigError(f"{where} is not a table")
    unknown = set(table) - {f.name for f in fields(PeerConfig)}
    if unknown:
        raise ConfigError(f"{where}: unknown setting(s) {', '.join(sorted(unknown))}")
    try:
        peer = PeerConfig(**table)
    except TypeError as error:
        raise ConfigError(f"{where}: symbol, url and agency_id are required ({error})") from error
    if not peer.url.startswith(("http://", "https://")):
        raise ConfigError(f"{where} ({peer.symbol}): url {peer.url!r} is not http(s)")
    if ":" not in peer.agency_id:
        raise ConfigError(f"{where} ({peer.symbol}): agency_id must be TYPE:VALUE, "
                          f"e.g. ISIL:{peer.agency_id or 'XX-123'}")
    return peer


@dataclass(slots=True)
class CoordinatorConfig:
    """Settings of one coordinator."""

    #: The directory the config file lives in; relative paths start here.
    home: Path
    listen: str = "127.0.0.1:50100"
    state_db: str = "state.sqlite"
    catalog_db: str = "catalog.sqlite"
    #: Signs the per-node credentials the coordinator presents to nodes (see auth.py).
    secret: str = ""
    #: How long a lender may stay silent after an offer (or after ExpectToSupply) before
    #: the request moves on to the next lender; a lender that said WillSupply keeps it
    #: unless it is down when this much time has passed. Three days, as ReShare's
    #: stale-request timer.
    answer_deadline: float = 3 * 24 * 3600.0
    #: Renewals a requester may ask for on one loan (ISO 18626 Renew), each moving
    #: the due date ``renewal_period`` seconds past the later of now and the old date.
    max_renewals: int = 1
    renewal_period: float = 21 * 24 * 3600.0
    #: How long the availability round waits for each node.
    availability_timeout: float = 2.0
    #: Timeout of one call to a node (OfferLoan, UpdateLoanStatus).
    call_timeout: float = 5.0
    #: Attempts of one call to a node before it counts as unreachable.
    call_attempts: int = 3
    #: First pause between attempts; doubled each time.
    retry_backoff: float = 0.2
    health_interval: float = 30.0
    #: Seconds between harvests of every node (and of partner sources without a schedule).
    harvest_interval: float = 3600.0
    #: A sources file (harvester/sources.py format, relative to this file): partner
    #: libraries' own OAI-PMH servers, harvested on their ``schedule``.
    sources: str = ""
    #: How often the partner sources' schedules are looked at.
    partner_check_interval: float = 60.0
    #: How often deadlines, due dates and the outbox are looked at.
    tick_interval: float = 1.0
    #: Address of the web pages (empty: no web server). SRU (/sru) and the ISO 18626
    #: gateway (/iso18626) are served there too.
    web_listen: str = ""
    #: This network's ISO 18626 agency id ("TYPE:VALUE"): how outside peers address it.
    agency_id: str = NETWORK_AGENCY
    #: Outside ISO 18626 partners, one ``[[coordinator.peers]]`` table each.
    peers: list[PeerConfig] = field(default_factory=list)
    #: Scheduled backups of the coordinator's SQLite stores (its state, the staff accounts
    #: and, with ``backup_catalog``, the union catalog): seconds between two (0: none), the
    #: folder (relative to this file) and how many are kept. See docs/backup.md.
    backup_interval: float = 0.0
    backup_dir: str = "backups"
    backup_keep: int = 7
    backup_catalog: bool = True

    @property
    def state_path(self) -> Path | str:
        """The state's SQLite file, or its ``postgresql://`` URL as written."""
        return resolve(self.home, self.state_db)

    @property
    def catalog_path(self) -> Path | str:
        """The union catalog's SQLite file, or its ``postgresql://`` URL as written."""
        return resolve(self.home, self.catalog_db)

    @property
    def sources_path(self) -> Path | None:
        return self.home / self.sources if self.sources else None

    @property
    def backup_plan(self) -> BackupPlan | None:
        """The scheduled backups the coordinator runs (None when backup_interval is 0)."""
        if not self.backup_interval:
            return None
        return BackupPlan.from_table({"interval": self.backup_interval,
                                      "directory": self.backup_dir, "keep": self.backup_keep},
                                     Path(self.home))

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])

    @classmethod
    def load(cls, path: str | Path) -> CoordinatorConfig:
        """Read a coordinator.toml; ConfigError names the file and what is wrong."""
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as error:
            raise ConfigError(f"{path}: no such file (run `libfed coordinator init`)") from error
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise ConfigError(f"{path}: {error}") from error
        table = data.get("coordinator")
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: no [coordinator] table")
        known = {f.name for f in fields(cls)} - {"home"}
        unknown = set(table) - known
        if unknown:
            raise ConfigError(f"{path}: unknown setting(s) {', '.join(sorted(unknown))}")
        peers = table.get("peers", [])
        if not isinstance(peers, list):
            raise ConfigError(f"{path}: peers must be [[coordinator.peers]] tables")
        table = {**table, "peers": [peer_config(path, n, t) for n, t in enumerate(peers, start=1)]}
        symbols = [peer.symbol for peer in table["peers"]]
        if len(set(symbols)) != len(symbols):
            raise ConfigError(f"{path}: two peers share a symbol ({', '.join(symbols)})")
        agencies = [peer.agency_id for peer in table["peers"]]
        if len(set(agencies)) != len(agencies):
            raise ConfigError(f"{path}: two peers share an agency id ({', '.join(agencies)})")
        if ":" not in str(table.get("agency_id", NETWORK_AGENCY)):
            raise ConfigError(f"{path}: agency_id must be TYPE:VALUE, e.g. LIBFED:NETWORK")
        try:
            config = cls(home=path.resolve().parent, **table)
        except TypeError as error:
            raise ConfigError(f"{path}: {error}") from error
        if not config.secret:
            raise ConfigError(f"{path}: [coordinator] secret is empty")
        try:
            config.backup_plan  # noqa: B018 - a bad backup setting is told now, naming the file
        except ConfigError as error:
            raise ConfigError(f"{path}: {error}") from error
        return config

    def write(self, path: str | Path) -> None:
        data = {k: v for k, v in asdict(self).items() if k != "home"}
        if not data["peers"]:
            # An empty inline list would stop a person from adding [[coordinator.peers]].
            del data["peers"]
        Path(path).write_text(tomli_w.dumps({"coordinator": data}), encoding="utf-8")

    @classmethod
    def create(cls, directory: str | Path, port: int = 50100) -> tuple[CoordinatorConfig, Path]:
        """A new coordinator directory with a fresh secret; refuses to overwrite one."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / "coordinator.toml"
        if path.exists():
            raise ConfigError(f"{path} exists already; refusing to overwrite its secret")
        config = cls(home=directory.resolve(), listen=f"127.0.0.1:{port}", secret=new_secret())
        config.write(path)
        return config, path
