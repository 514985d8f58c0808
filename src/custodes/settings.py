"""Settings in one table.

Every setting has a name, a type, a default and a help text. Values are
resolved in this order, later winning: the defaults below, the workspace's
``settings.toml``, the environment (``CUSTODES_<NAME>`` upper-cased), then
explicit overrides (command-line flags or keyword arguments). Secrets are
never read from the settings file.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from custodes.errors import SettingError, closest

__all__ = [
    "SETTINGS",
    "Setting",
    "Settings",
    "available_memory",
    "check_threshold",
    "load_settings",
    "memory_bytes",
]


@dataclass(frozen=True)
class Setting:
    """One documented setting."""

    name: str
    default: Any
    kind: type
    help: str

    @property
    def env(self) -> str:
        """The environment variable that sets it."""
        return "CUSTODES_" + self.name.upper()


SETTINGS: tuple[Setting, ...] = (
    Setting("workspace", ".custodes", str, "Workspace folder: settings, store and reports."),
    Setting("engine", "polars", str, "Engine for full-data operations: 'polars'."),
    Setting(
        "risk_threshold",
        0.2,
        float,
        "Re-identification risk above which a record counts as at risk.",
    ),
    Setting(
        "max_qi_combinations",
        10,
        int,
        "Largest number of quasi-identifiers searched for distinction and separation.",
    ),
    Setting("encoding", "auto", str, "Text encoding of CSV input; 'auto' detects it."),
    Setting(
        "search_max_nodes",
        100_000,
        int,
        "Largest lattice searched exactly; larger ones get a heuristic (not proven optimal).",
    ),
    Setting(
        "search_time_limit",
        60.0,
        float,
        "Seconds the heuristic search may spend improving its result.",
    ),
    Setting(
        "memory_limit",
        "auto",
        str,
        "Memory the anonymization search may hold (4GiB, 512MiB, 50% of the available "
        "memory); past it, the summary's classes are searched in parts on disk. "
        "auto: half of the available memory.",
    ),
    Setting(
        "grading_policy",
        "",
        str,
        "Grading policy file (TOML) for custodes scan; empty: the built-in policy.",
    ),
    Setting(
        "store_url",
        "",
        str,
        "Database of the store (SQLAlchemy URL); empty: SQLite custodes.db in the workspace.",
    ),
    Setting(
        "signing_key",
        "",
        str,
        "The ledger's Ed25519 private key file; empty: keys/ledger.key in the workspace.",
    ),
    Setting(
        "governance_policy",
        "",
        str,
        "Governance policy file (TOML): quorum, board roles, release gates; empty: built in.",
    ),
    Setting(
        "actor",
        "",
        str,
        "Who acts in governance commands (else --as); an actor registered in the store.",
    ),
    Setting(
        "key",
        "",
        str,
        "The acting actor's private key file; empty: the actor's key in the keyring.",
    ),
    Setting(
        "keyring",
        "",
        str,
        "Folder of personal keys (outside the workspace); empty: ~/.config/custodes/keys.",
    ),
    Setting(
        "ledger_head_every",
        1000,
        int,
        "Sign a tree head automatically after every this many ledger entries.",
    ),
)

_BY_NAME = {s.name: s for s in SETTINGS}


@dataclass(frozen=True)
class Settings:
    """The resolved settings of one workspace."""

    workspace: Path = Path(".custodes")
    engine: str = "polars"
    risk_threshold: float = 0.2
    max_qi_combinations: int = 10
    encoding: str = "auto"
    search_max_nodes: int = 100_000
    search_time_limit: float = 60.0
    memory_limit: str = "auto"
    grading_policy: str = ""
    store_url: str = ""
    signing_key: str = ""
    ledger_head_every: int = 1000
    governance_policy: str = ""
    actor: str = ""
    key: str = ""
    keyring: str = ""
    sources: dict[str, str] = field(default_factory=dict, compare=False)

    def database_url(self) -> str:
        """The store's SQLAlchemy URL (default: SQLite in the workspace folder)."""
        if self.store_url:
            return self.store_url
        return f"sqlite:///{(self.workspace / 'custodes.db').resolve()}"

    def keyring_path(self) -> Path:
        """The folder of personal keys: the keyring setting, else ``custodes/keys`` in
        $XDG_CONFIG_HOME (default ``~/.config``)."""
        if self.keyring:
            return Path(self.keyring)
        config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
        return Path(config) / "custodes" / "keys"

    def memory_limit_bytes(self) -> int:
        """The memory limit in bytes (``auto`` and shares of the memory resolved now)."""
        return memory_bytes(self.memory_limit)

    def signing_key_path(self) -> Path:
        """Where the ledger's private key is."""
        if self.signing_key:
            return Path(self.signing_key)
        return self.workspace / "keys" / "ledger.key"


def _coerce(setting: Setting, value: Any, origin: str) -> Any:
    try:
        if setting.kind is bool and isinstance(value, str):
            return value.strip().lower() in {"1", "true", "yes", "on"}
        return setting.kind(value)
    except (TypeError, ValueError):
        raise SettingError(
            f"setting {setting.name!r} from {origin} must be a {setting.kind.__name__}; "
            f"fix it or unset it (default: {setting.default!r})."
        ) from None


def check_threshold(value: object, name: str = "risk_threshold") -> float:
    """A risk threshold: a number in (0, 1]."""
    try:
        threshold = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise SettingError(
            f"setting {name!r} is {value!r}; give a number in (0, 1], e.g. 0.2."
        ) from None
    if not 0.0 < threshold <= 1.0:
        raise SettingError(f"setting {name!r} is {threshold}; it must be in (0, 1], e.g. 0.2.")
    return threshold


_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?")
_SHARE = re.compile(r"(\d+(?:\.\d+)?)\s*%")
_LEAST = 1 << 20


def available_memory() -> int:
    """Bytes of memory available to a new program now (Linux: MemAvailable), else the
    free physical memory, else 4 GiB."""
    try:
        for line in Path("/proc/meminfo").read_text(encoding="ascii").splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return 4 << 30


def memory_bytes(value: object, origin: str = "the settings") -> int:
    """A memory limit in bytes: ``auto`` (half of the available memory), a share of the
    available memory (``50%``) or a size (``4GiB``, ``512M``, ``1073741824``; K, M, G
    and T are powers of 1024, with or without ``B`` or ``iB``); at least 1 MiB."""
    text = str(value).strip().lower()
    share = _SHARE.fullmatch(text)
    size = _SIZE.fullmatch(text)
    found: float | None = None
    if text == "auto":
        found = available_memory() / 2
    elif share is not None and 0 < float(share.group(1)) <= 100:
        found = available_memory() * float(share.group(1)) / 100
    elif size is not None:
        found = float(size.group(1)) * _UNITS[size.group(2)]
        if found < _LEAST:
            found = None
    if found is None:
        raise SettingError(
            f"setting 'memory_limit' from {origin} is {value!r}; give a size of at least "
            "1MiB such as 4GiB or 512MiB, a share of the available memory such as 50%, "
            "or auto (half of the available memory)."
        )
    return max(_LEAST, int(found))


def _check(values: dict[str, Any]) -> None:
    check_threshold(values["risk_threshold"])
    if values["search_max_nodes"] < 1 or values["search_time_limit"] <= 0:
        raise SettingError("settings 'search_max_nodes' and 'search_time_limit' must be positive.")
    if not 1 <= values["max_qi_combinations"] <= 16:
        raise SettingError("setting 'max_qi_combinations' must be between 1 and 16.")
    if values["ledger_head_every"] < 1:
        raise SettingError("setting 'ledger_head_every' must be a whole number >= 1, e.g. 1000.")


def _origin(setting: Setting, sources: dict[str, str]) -> str:
    """Where a setting's value came from, as a message names it."""
    source = sources[setting.name]
    if source == "default":
        return "the defaults"
    if source == "flag":
        return f"the command line (--{setting.name.replace('_', '-')})"
    if source == "environment":
        return f"environment variable {setting.env}"
    return source


def load_settings(
    workspace: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
) -> Settings:
    """Resolve settings: defaults, then settings file, environment, overrides."""
    env = dict(os.environ if environ is None else environ)
    values: dict[str, Any] = {s.name: s.default for s in SETTINGS}
    sources = {s.name: "default" for s in SETTINGS}

    # The workspace folder itself: flag, else environment, else default.
    if workspace is not None:
        values["workspace"], sources["workspace"] = str(workspace), "flag"
    elif _BY_NAME["workspace"].env in env:
        values["workspace"], sources["workspace"] = env[_BY_NAME["workspace"].env], "environment"
    ws = Path(values["workspace"])

    settings_file = ws / "settings.toml"
    if settings_file.is_file():
        try:
            data = tomllib.loads(settings_file.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise SettingError(f"{settings_file}: not valid TOML ({exc}); fix the file.") from None
        for key, value in data.items():
            if key not in _BY_NAME or key == "workspace":
                hint = closest(key, [n for n in _BY_NAME if n != "workspace"])
                extra = f" Did you mean {hint!r}?" if hint else ""
                raise SettingError(f"{settings_file}: unknown setting {key!r}.{extra}")
            values[key] = _coerce(_BY_NAME[key], value, str(settings_file))
            sources[key] = str(settings_file)

    for s in SETTINGS:
        if s.name != "workspace" and s.env in env:
            values[s.name] = _coerce(s, env[s.env], f"environment variable {s.env}")
            sources[s.name] = "environment"

    for key, value in (overrides or {}).items():
        if value is None:
            continue
        if key not in _BY_NAME:
            raise SettingError(f"unknown setting {key!r}.")
        values[key] = _coerce(_BY_NAME[key], value, "the command line")
        sources[key] = "flag"

    _check(values)
    memory_bytes(values["memory_limit"], _origin(_BY_NAME["memory_limit"], sources))
    known = {f.name for f in fields(Settings)} - {"sources"}
    kwargs = {k: v for k, v in values.items() if k in known}
    kwargs["workspace"] = Path(kwargs["workspace"])
    return Settings(**kwargs, sources=sources)
