"""``coordinator.toml``: where the coordinator keeps its files and how patient it is.

Paths are relative to the directory of the file, so a coordinator directory can
be moved as a whole. Durations are seconds: days in production, seconds in tests.
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import tomli_w

from federation.coordinator.auth import new_secret
from federation.errors import ConfigError


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
    #: Address of the web pages (empty: no web server).
    web_listen: str = ""

    @property
    def state_path(self) -> Path:
        return self.home / self.state_db

    @property
    def catalog_path(self) -> Path:
        return self.home / self.catalog_db

    @property
    def sources_path(self) -> Path | None:
        return self.home / self.sources if self.sources else None

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
        try:
            config = cls(home=path.resolve().parent, **table)
        except TypeError as error:
            raise ConfigError(f"{path}: {error}") from error
        if not config.secret:
            raise ConfigError(f"{path}: [coordinator] secret is empty")
        return config

    def write(self, path: str | Path) -> None:
        data = {k: v for k, v in asdict(self).items() if k != "home"}
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
