"""A node's configuration file, ``node.toml``.

One file per library says who the library is (symbol, name, admin e-mail),
where its holdings database lives and where it listens. ``libfed node init``
writes it; every other ``libfed node`` command reads it. Tables this module does
not know (the coordinator's ``[coordinator]`` table, a future room's settings)
are kept as they are when the file is rewritten, so two rooms can share one file.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from federation.backup.schedule import BackupPlan
from federation.errors import ConfigError

#: OAI-PMH page size when the file does not say.
DEFAULT_PAGE_SIZE = 500
#: Resumption tokens older than this are refused as stale (seconds).
DEFAULT_TOKEN_TTL = 24 * 3600

_SYMBOL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-_.]{0,63}$")
#: OAI-PMH.xsd's emailType.
_EMAIL = re.compile(r"\S+@(\S+\.)+\S+")
#: The oai-identifier scheme's repositoryIdentifier (leading digits tolerated: older
#: defaults made them from symbols such as 1LIB, and identifiers must stay stable).
_DOMAIN = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9-]*(\.[a-zA-Z0-9][a-zA-Z0-9-]*)+")


@dataclass(slots=True)
class NodeConfig:
    """Everything a node process needs to know about its library."""

    symbol: str
    name: str
    database: Path
    grpc_listen: str = "127.0.0.1:50051"
    http_listen: str = "127.0.0.1:8080"
    admin_email: str = ""
    oai_page_size: int = DEFAULT_PAGE_SIZE
    oai_token_ttl: int = DEFAULT_TOKEN_TTL
    #: The domain-like repository identifier in OAI identifiers (oai:<domain>:<id>).
    oai_domain: str = ""
    #: Where the file was read from; relative paths in it are relative to its folder.
    path: Path | None = None
    #: Tables and keys this module does not own, kept verbatim on save.
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not _SYMBOL.match(self.symbol):
            raise ConfigError(
                f"library symbol {self.symbol!r} must be 1-64 letters, digits, '-', '_' or '.'"
            )
        if not self.admin_email:
            self.admin_email = f"admin@{self.domain}"
        if not self.oai_domain:
            self.oai_domain = default_domain(self.symbol)
        # Identify must validate: OAI-PMH's emailType and the oai-identifier scheme.
        if not _EMAIL.fullmatch(self.admin_email):
            raise ConfigError(f"admin email {self.admin_email!r} is not an e-mail address")
        if not _DOMAIN.fullmatch(self.oai_domain):
            raise ConfigError(
                f"oai domain {self.oai_domain!r} must be domain-shaped (letters, digits, '-', "
                "at least one dot), e.g. library.example.org"
            )
        if self.oai_page_size < 1:
            raise ConfigError("oai page_size must be at least 1")

    @property
    def domain(self) -> str:
        return self.oai_domain or default_domain(self.symbol)

    @property
    def coordinator(self) -> dict[str, Any]:
        """The ``[coordinator]`` table (address, token), empty when absent."""
        table = self.extra.get("coordinator", {})
        return table if isinstance(table, dict) else {}

    @property
    def backup(self) -> BackupPlan | None:
        """The ``[backup]`` table (interval seconds, directory, keep) the node serves by;
        None when absent. A relative directory is relative to this file's folder."""
        home = self.path.parent if self.path is not None else self.database_path().parent
        return BackupPlan.from_table(self.extra.get("backup"), home)

    def to_toml(self) -> dict[str, Any]:
        """The file's content: the known keys plus every unknown table kept."""
        node = dict(self.extra.get("node", {}))
        node.update(
            symbol=self.symbol,
            name=self.name,
            database=str(self.database),
            grpc_listen=self.grpc_listen,
            http_listen=self.http_listen,
            admin_email=self.admin_email,
        )
        oai = dict(self.extra.get("oai", {}))
        oai.update(page_size=self.oai_page_size, token_ttl=self.oai_token_ttl, domain=self.domain)
        data = {key: value for key, value in self.extra.items() if key not in ("node", "oai")}
        return {"node": node, "oai": oai, **data}

    def database_path(self) -> Path:
        """The database file, relative paths resolved against the config's folder."""
        if self.database.is_absolute() or self.path is None:
            return self.database
        return self.path.parent / self.database


def default_domain(symbol: str) -> str:
    """A domain-shaped repository id: the oai-identifier scheme needs a dot in it."""
    label = re.sub(r"[^a-z0-9-]+", "-", symbol.lower()).strip("-") or "node"
    return f"{label}.libfed"


def load(path: Path | str) -> NodeConfig:
    """Read ``node.toml``; a missing or malformed file is a ConfigError naming it."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise ConfigError(f"{path}: no such config file (run `libfed node init`)") from error
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read config: {error}") from error
    node = data.get("node")
    if not isinstance(node, dict):
        raise ConfigError(f"{path}: no [node] table")
    oai = data.get("oai", {})
    try:
        config = NodeConfig(
            symbol=str(node["symbol"]),
            name=str(node["name"]),
            database=Path(str(node.get("database", "holdings.sqlite"))),
            grpc_listen=str(node.get("grpc_listen", "127.0.0.1:50051")),
            http_listen=str(node.get("http_listen", "127.0.0.1:8080")),
            admin_email=str(node.get("admin_email", "")),
            oai_page_size=int(oai.get("page_size", DEFAULT_PAGE_SIZE)),
            oai_token_ttl=int(oai.get("token_ttl", DEFAULT_TOKEN_TTL)),
            oai_domain=str(oai.get("domain", "")),
            path=path.resolve(),
            extra=data,
        )
        config.backup  # noqa: B018 - a bad [backup] table is told now, naming the file
        return config
    except KeyError as error:
        raise ConfigError(f"{path}: [node] lacks {error.args[0]!r}") from error
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from error
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{path}: {error}") from error


def save(config: NodeConfig, path: Path | str) -> None:
    """Write the config, keeping tables other rooms put there."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".toml.tmp")
    tmp.write_text(tomli_w.dumps(config.to_toml()), encoding="utf-8")
    tmp.replace(path)
    config.path = path.resolve()


def split_listen(listen: str) -> tuple[str, int]:
    """``host:port`` → (host, port); a bad value is a ConfigError."""
    host, _, port = listen.rpartition(":")
    try:
        return host or "127.0.0.1", int(port)
    except ValueError as error:
        raise ConfigError(f"listen address {listen!r} is not host:port") from error
