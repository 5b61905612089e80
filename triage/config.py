"""Read ``config.toml`` once into frozen dataclasses.

Every problem is reported as a :class:`ConfigError` naming the key and what is
wrong with it. Secrets never live in the file: it names an environment variable
or a secret file, read by :func:`read_secret` only when a connection needs it.
Relative paths are resolved against the directory of the config file.
"""

from __future__ import annotations

import ipaddress
import os
import stat
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any, TypeVar

from triage.errors import ConfigError

CATEGORIES: tuple[str, ...] = (
    "automated",
    "unacceptable_behaviour",
    "review_request",
    "publication_response",
    "complainant_followup",
    "new_complaint",
    "out_of_remit",
)
"""The triage categories in priority order: where two apply, the first wins."""

DEFAULT_FOLDERS: dict[str, str] = {
    "new_complaint": "Triage/New complaint",
    "publication_response": "Triage/Publication response",
    "review_request": "Triage/Review request",
    "complainant_followup": "Triage/Follow-up",
    "out_of_remit": "Triage/Out of remit",
    "unacceptable_behaviour": "Triage/Unacceptable behaviour",
    "automated": "Triage/Automated",
}

T = TypeVar("T")


@dataclass(frozen=True)
class SecretRef:
    """Where a secret comes from: an environment variable and/or a file."""

    env: str | None
    file: Path | None
    key: str

    def describe(self) -> str:
        parts = [f"${self.env}" if self.env else "", str(self.file) if self.file else ""]
        return " or ".join(p for p in parts if p) or "nowhere"


@dataclass(frozen=True)
class OAuth2Config:
    token_url: str
    client_id: str
    client_secret: SecretRef
    refresh_token_file: Path
    scope: str


@dataclass(frozen=True)
class ImapConfig:
    host: str
    port: int
    security: str
    username: str
    password: SecretRef
    auth: str
    oauth2: OAuth2Config | None
    inbox: str
    drafts: str
    sent: str
    timeout_seconds: float
    ca_file: Path | None


@dataclass(frozen=True)
class FoldersConfig:
    mode: str
    categories: Mapping[str, str]
    needs_review: str
    quarantine: str


@dataclass(frozen=True)
class PollConfig:
    interval_seconds: int
    batch_size: int
    batch_bytes: int
    idle: bool
    idle_seconds: int
    max_attempts: int


@dataclass(frozen=True)
class LimitsConfig:
    max_message_bytes: int
    max_parts: int
    max_text_chars: int
    max_header_bytes: int = 262_144


@dataclass(frozen=True)
class ClassifierConfig:
    model_dir: Path
    threshold: float | None
    thresholds: Mapping[str, float]


@dataclass(frozen=True)
class TeamConfig:
    name: str
    address: str
    signature: str
    never_reply: tuple[str, ...]
    max_drafts_per_address_per_day: int


@dataclass(frozen=True)
class CasesConfig:
    duplicate_window_days: int
    duplicate_similarity: float


@dataclass(frozen=True)
class DeadlinesConfig:
    publication_resolution_days: int
    review_after_assessment_days: int
    review_after_decision_days: int
    correspondence_days: int


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    security: str
    username: str | None
    password: SecretRef
    timeout_seconds: float
    ca_file: Path | None


@dataclass(frozen=True)
class DigestConfig:
    enabled: bool
    recipients: tuple[str, ...]
    sender: str
    send_at: time
    stale_draft_days: int
    retries: int
    smtp: SmtpConfig


@dataclass(frozen=True)
class Config:
    path: Path
    team: TeamConfig
    imap: ImapConfig
    folders: FoldersConfig
    database_url: str
    poll: PollConfig
    limits: LimitsConfig
    classifier: ClassifierConfig
    publications_file: Path | None
    cases: CasesConfig
    deadlines: DeadlinesConfig
    templates_dir: Path
    digest: DigestConfig
    log_level: str = "INFO"
    extra: Mapping[str, Any] = field(default_factory=dict)

    def folder_for(self, category: str) -> str:
        return self.folders.categories[category]


_REQUIRED = object()
_REQUIRED_S = object()


class _Section:
    """Typed access to one TOML table that remembers the dotted key path."""

    def __init__(self, data: Mapping[str, Any], path: str, base: Path) -> None:
        if not isinstance(data, Mapping):
            raise ConfigError(f"{path}: expected a table")
        self.data, self.path, self.base = data, path, base
        self.used: set[str] = set()

    def _key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def _get(self, name: str, kind: type[T], default: Any, what: str) -> T:
        self.used.add(name)
        if name not in self.data:
            if default is _REQUIRED:
                raise ConfigError(f"{self._key(name)}: missing ({what} required)")
            return default  # type: ignore[no-any-return]
        value = self.data[name]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ConfigError(f"{self._key(name)}: expected {what}, got {value!r}")
        return value

    def str(self, name: str, default: Any = None) -> Any:
        value = self._get(name, str, default, "a string")
        if value is not None and isinstance(value, str) and not value.strip():
            raise ConfigError(f"{self._key(name)}: must not be empty")
        return value

    def int(self, name: str, default: Any, lo: int = 0, hi: int = 2**62) -> int:
        value = self._get(name, int, default, "an integer")
        if not lo <= value <= hi:
            raise ConfigError(f"{self._key(name)}: must be between {lo} and {hi}, got {value}")
        return value

    def float(self, name: str, default: Any, lo: float = 0.0, hi: float = 1e12) -> float:
        value = self._get(name, float, default, "a number")
        if not lo <= value <= hi:
            raise ConfigError(f"{self._key(name)}: must be between {lo} and {hi}, got {value}")
        return value

    def bool(self, name: str, default: Any) -> bool:
        return self._get(name, bool, default, "true or false")

    def choice(self, name: str, choices: tuple[str, ...], default: Any = _REQUIRED_S) -> str:
        value = self.str(name, _REQUIRED if default is _REQUIRED_S else default)
        if value not in choices:
            raise ConfigError(f"{self._key(name)}: must be one of {', '.join(choices)}; got {value!r}")
        return str(value)

    def list(self, name: str) -> tuple[str, ...]:
        value = self._get(name, list, [], "a list of strings")
        if not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{self._key(name)}: expected a list of strings")
        return tuple(value)

    def path_(self, name: str, default: Any = None) -> Path | None:
        value = self.str(name, default)
        if value is None:
            return None
        p = Path(value).expanduser()
        return p if p.is_absolute() else (self.base / p)

    def section(self, name: str) -> _Section:
        self.used.add(name)
        return _Section(self.data.get(name, {}), self._key(name), self.base)

    def secret(self, key: str) -> SecretRef:
        env = self.str(f"{key}_env")
        file = self.path_(f"{key}_file")
        if f"{key}" in self.data:
            raise ConfigError(
                f"{self._key(key)}: secrets are not allowed in the config file; "
                f"use {key}_env (an environment variable) or {key}_file"
            )
        return SecretRef(env=env, file=file, key=self._key(key))

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            raise ConfigError(f"{self._key(unknown[0])}: unknown setting")



def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_security(sec: _Section, host: str, security: str) -> None:
    if security == "none" and not _is_loopback(host):
        raise ConfigError(
            f"{sec.path}.security: 'none' sends passwords and mail in clear text and is only "
            f"allowed for a loopback host, not {host!r}; use 'tls' or 'starttls'"
        )


def _oauth2(sec: _Section) -> OAuth2Config:
    oauth = OAuth2Config(
        token_url=sec.str("token_url", _REQUIRED),
        client_id=sec.str("client_id", _REQUIRED),
        client_secret=sec.secret("client_secret"),
        refresh_token_file=sec.path_("refresh_token_file", _REQUIRED) or Path(),
        scope=sec.str("scope", ""),
    )
    sec.done()
    return oauth


def _imap(sec: _Section) -> ImapConfig:
    host = sec.str("host", _REQUIRED)
    security = sec.choice("security", ("tls", "starttls", "none"), "tls")
    _check_security(sec, host, security)
    auth = sec.choice("auth", ("password", "xoauth2"), "password")
    oauth = _oauth2(sec.section("oauth2")) if auth == "xoauth2" else None
    if auth != "xoauth2":
        sec.used.add("oauth2")
    password = sec.secret("password")
    if auth == "password" and not (password.env or password.file):
        raise ConfigError(f"{sec.path}.password_env: missing (or set password_file)")
    cfg = ImapConfig(
        host=host,
        port=sec.int("port", 993 if security == "tls" else 143, 1, 65535),
        security=security,
        username=sec.str("username", _REQUIRED),
        password=password,
        auth=auth,
        oauth2=oauth,
        inbox=sec.str("inbox", "INBOX"),
        drafts=sec.str("drafts", "Drafts"),
        sent=sec.str("sent", "Sent"),
        timeout_seconds=sec.float("timeout_seconds", 60.0, 1.0, 3600.0),
        ca_file=sec.path_("ca_file"),
    )
    sec.done()
    return cfg


def _folders(sec: _Section) -> FoldersConfig:
    cats = sec.section("categories")
    names = {c: cats.str(c, DEFAULT_FOLDERS[c]) for c in CATEGORIES}
    cats.done()
    cfg = FoldersConfig(
        mode=sec.choice("mode", ("move", "keywords", "both"), "move"),
        categories=names,
        needs_review=sec.str("needs_review", "Triage/Needs review"),
        quarantine=sec.str("quarantine", "Triage/Quarantine"),
    )
    sec.done()
    all_names = [*names.values(), cfg.needs_review, cfg.quarantine]
    if len(set(all_names)) != len(all_names):
        raise ConfigError("folders: every category, needs_review and quarantine needs its own folder")
    return cfg


def _poll(sec: _Section) -> PollConfig:
    cfg = PollConfig(
        interval_seconds=sec.int("interval_seconds", 60, 1, 86400),
        batch_size=sec.int("batch_size", 50, 1, 10000),
        batch_bytes=sec.int("batch_bytes", 32 * 1024 * 1024, 1024 * 1024, 2**40),
        idle=sec.bool("idle", True),
        # RFC 2177: servers may drop IDLE after 30 minutes; re-issue before that.
        idle_seconds=sec.int("idle_seconds", 29 * 60, 1, 29 * 60),
        max_attempts=sec.int("max_attempts", 3, 1, 100),
    )
    sec.done()
    return cfg


def _limits(sec: _Section) -> LimitsConfig:
    cfg = LimitsConfig(
        max_message_bytes=sec.int("max_message_bytes", 40 * 1024 * 1024, 1024, 2**40),
        max_parts=sec.int("max_parts", 500, 1, 10**6),
        max_text_chars=sec.int("max_text_chars", 200_000, 1000, 10**9),
        max_header_bytes=sec.int("max_header_bytes", 262_144, 1024, 2**30),
    )
    sec.done()
    return cfg


def _classifier(sec: _Section) -> ClassifierConfig:
    th = sec.section("thresholds")
    thresholds = {}
    for name in list(th.data):
        if name not in CATEGORIES:
            raise ConfigError(f"classifier.thresholds.{name}: not a category ({', '.join(CATEGORIES)})")
        thresholds[name] = th.float(name, _REQUIRED, 0.0, 1.0)
    cfg = ClassifierConfig(
        model_dir=sec.path_("model_dir", "models") or Path("models"),
        threshold=sec.float("threshold", None, 0.0, 1.0) if "threshold" in sec.data else None,
        thresholds=thresholds,
    )
    sec.done()
    return cfg


def _team(sec: _Section) -> TeamConfig:
    address = sec.str("address", _REQUIRED)
    if "@" not in address or any(c in address for c in "\r\n <>"):
        raise ConfigError(f"team.address: expected a plain e-mail address, got {address!r}")
    cfg = TeamConfig(
        name=sec.str("name", "Complaints Team"),
        address=address,
        signature=sec.str("signature", "The Complaints Team"),
        never_reply=tuple(a.lower() for a in sec.list("never_reply")),
        max_drafts_per_address_per_day=sec.int("max_drafts_per_address_per_day", 3, 1, 1000),
    )
    sec.done()
    return cfg


def _smtp(sec: _Section) -> SmtpConfig:
    host = sec.str("host", "localhost")
    security = sec.choice("security", ("tls", "starttls", "none"), "starttls")
    _check_security(sec, host, security)
    cfg = SmtpConfig(
        host=host,
        port=sec.int("port", 465 if security == "tls" else 587, 1, 65535),
        security=security,
        username=sec.str("username"),
        password=sec.secret("password"),
        timeout_seconds=sec.float("timeout_seconds", 30.0, 1.0, 600.0),
        ca_file=sec.path_("ca_file"),
    )
    sec.done()
    return cfg


def _digest(sec: _Section, team: TeamConfig) -> DigestConfig:
    raw_time = sec.str("send_at", "07:30")
    try:
        hh, mm = (int(x) for x in raw_time.split(":"))
        send_at = time(hh, mm)
    except ValueError:
        raise ConfigError(f"digest.send_at: expected HH:MM, got {raw_time!r}") from None
    cfg = DigestConfig(
        enabled=sec.bool("enabled", False),
        recipients=sec.list("recipients"),
        sender=sec.str("sender", team.address),
        send_at=send_at,
        stale_draft_days=sec.int("stale_draft_days", 3, 1, 365),
        retries=sec.int("retries", 3, 0, 20),
        smtp=_smtp(sec.section("smtp")),
    )
    sec.done()
    if cfg.enabled and not cfg.recipients:
        raise ConfigError("digest.recipients: at least one recipient is needed when enabled")
    return cfg


def _simple(sec: _Section, build: Callable[[_Section], T]) -> T:
    value = build(sec)
    sec.done()
    return value


def _database_url(sec: _Section) -> str:
    url = sec.str("url", "sqlite:///var/triage.db")
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        rel = url[len("sqlite:///"):]
        if rel and rel != ":memory:":
            url = "sqlite:///" + str(sec.base / rel)
    return str(url)


def build_config(data: Mapping[str, Any], path: Path) -> Config:
    """Validate parsed TOML ``data`` into a :class:`Config`; raises ConfigError."""
    root = _Section(data, "", path.parent)
    team = _simple(root.section("team"), _team)
    cfg = Config(
        path=path,
        team=team,
        imap=_imap(root.section("imap")),
        folders=_folders(root.section("folders")),
        database_url=_simple(root.section("database"), _database_url),
        poll=_poll(root.section("poll")),
        limits=_limits(root.section("limits")),
        classifier=_classifier(root.section("classifier")),
        publications_file=_simple(root.section("publications"), lambda s: s.path_("file")),
        cases=_simple(root.section("cases"), lambda s: CasesConfig(
            duplicate_window_days=s.int("duplicate_window_days", 30, 0, 3650),
            duplicate_similarity=s.float("duplicate_similarity", 0.6, 0.0, 1.0))),
        deadlines=_simple(root.section("deadlines"), lambda s: DeadlinesConfig(
            publication_resolution_days=s.int("publication_resolution_days", 28, 1, 3650),
            review_after_assessment_days=s.int("review_after_assessment_days", 7, 1, 3650),
            review_after_decision_days=s.int("review_after_decision_days", 14, 1, 3650),
            correspondence_days=s.int("correspondence_days", 14, 1, 3650))),
        templates_dir=_simple(root.section("templates"),
                              lambda s: s.path_("dir", "templates") or Path("templates")),
        digest=_digest(root.section("digest"), team),
        log_level=_simple(root.section("logging"), lambda s: s.choice(
            "level", ("DEBUG", "INFO", "WARNING", "ERROR"), "INFO")),
    )
    root.done()
    return cfg


def config_path(explicit: str | None) -> Path:
    """The config file to use: ``--config``, else ``$TRIAGE_CONFIG``, else ./config.toml."""
    return Path(explicit or os.environ.get("TRIAGE_CONFIG") or "config.toml")


def load_config(path: Path) -> Config:
    """Read and validate the config file at ``path``; raises ConfigError."""
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found (use --config or TRIAGE_CONFIG)") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    return build_config(data, path.resolve())


def read_secret(ref: SecretRef) -> str:
    """The secret named by ``ref``: the environment first, then the file.

    A secret file must not be readable by group or others. Raises ConfigError
    naming where it looked, never the value.
    """
    if ref.env and os.environ.get(ref.env):
        return os.environ[ref.env]
    if ref.file:
        return _read_secret_file(ref)
    raise ConfigError(f"{ref.key}: no secret found in {ref.describe()}")


def _read_secret_file(ref: SecretRef) -> str:
    assert ref.file is not None
    try:
        st = ref.file.stat()
    except OSError:
        raise ConfigError(f"{ref.key}_file: {ref.file} does not exist or cannot be read") from None
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"{ref.key}_file: {ref.file} is readable by others; run chmod 600 {ref.file}"
        )
    value = ref.file.read_text(encoding="utf-8").strip()
    if not value:
        raise ConfigError(f"{ref.key}_file: {ref.file} is empty")
    return value
