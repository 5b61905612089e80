"""OAuth2 access tokens for XOAUTH2 login, renewed from a refresh token kept in a file.

:class:`TokenSource` gives an access token at each IMAP login: the cached one
until shortly before it expires, otherwise a new one from the provider's token
endpoint (RFC 6749 section 6, ``grant_type=refresh_token``). Providers rotate
refresh tokens (Microsoft on every refresh), and the old one stops working, so
a new refresh token is saved over the file at once, atomically and with mode
0600; losing it is how mailboxes die at the next restart, weeks later.

Only the standard library is used (urllib; TLS verified with the system CAs).
A refused or failed refresh raises :class:`AuthError` with one line naming the
problem; a missing, empty or unsafe refresh token file raises
:class:`ConfigError`. Tokens and secrets never appear in messages or logs.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import json
import logging
import math
import os
import ssl
import stat
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from triage.config import OAuth2Config, read_secret
from triage.errors import AuthError, ConfigError

log = logging.getLogger(__name__)

RENEW_BEFORE_SECONDS = 60.0
"""A cached access token is renewed this long before it expires (clock skew, slow logins)."""

ASSUMED_LIFETIME_SECONDS = 300.0
"""How long a token is trusted when the provider leaves out ``expires_in`` (it is optional)."""

TIMEOUT_SECONDS = 30.0
_MAX_RESPONSE_BYTES = 1024 * 1024
_FILE_KEY = "imap.oauth2.refresh_token_file"


class TokenSource:
    """Access tokens for one mailbox; safe to share between threads.

    ``clock`` (seconds, never going back) is only replaced by tests.
    """

    def __init__(self, config: OAuth2Config, clock: Callable[[], float] = time.monotonic,
                 timeout: float = TIMEOUT_SECONDS) -> None:
        _check_token_url(config.token_url)
        self.config = config
        self._clock = clock
        self._timeout = timeout
        self._lock = threading.Lock()  # one refresh at a time: rotation makes a second one fail
        self._access_token = ""
        self._renew_at = 0.0
        self._unsaved_refresh_token = ""  # a rotated token that could not be written to the file

    def access_token(self) -> str:
        """A current access token, refreshed when needed; raises AuthError or ConfigError.

        A token that lives less than RENEW_BEFORE_SECONDS is used for one login only.
        """
        with self._lock:
            if not self._access_token or self._clock() >= self._renew_at:
                self._refresh()
            return self._access_token

    def _refresh(self) -> None:
        refresh_token = self._unsaved_refresh_token or read_refresh_token(self.config.refresh_token_file)
        form = self._form(refresh_token)
        secrets = (refresh_token, form.get("client_secret", ""))
        started = self._clock()
        reply = _post_form(self.config.token_url, form, self._timeout, secrets)
        if reply.get("error") == "invalid_grant":
            self._unsaved_refresh_token = ""  # next time, read the file an operator may have fixed
            raise AuthError(f"{_refusal(self.config.token_url, reply, secrets)}; sign in again "
                            f"and put the new refresh token in {self.config.refresh_token_file}")
        self._access_token, lifetime = _grant(self.config.token_url, reply, secrets)
        self._renew_at = started + lifetime - RENEW_BEFORE_SECONDS
        log.info("OAuth2 access token renewed (valid for %d s)", lifetime)
        rotated = reply.get("refresh_token")
        if isinstance(rotated, str) and rotated and rotated != refresh_token:
            self._keep_refresh_token(rotated)

    def _form(self, refresh_token: str) -> dict[str, str]:
        """The refresh request's fields (RFC 6749 6; the secret is sent as client_secret_post)."""
        cfg = self.config
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": cfg.client_id}
        if cfg.client_secret.env or cfg.client_secret.file:
            form["client_secret"] = read_secret(cfg.client_secret)
        if cfg.scope:
            form["scope"] = cfg.scope
        return form

    def _keep_refresh_token(self, token: str) -> None:
        """Save a rotated refresh token; if that fails, keep it in memory and say so loudly."""
        path = self.config.refresh_token_file
        try:
            save_refresh_token(path, token)
        except OSError as exc:
            self._unsaved_refresh_token = token
            log.error("OAuth2 refresh token was rotated but %s could not be written (%s); "
                      "the service works until it restarts, then it needs a new sign-in",
                      path, exc.strerror or type(exc).__name__)
            return
        self._unsaved_refresh_token = ""
        log.info("OAuth2 refresh token rotated; saved to %s", path)


def read_refresh_token(path: Path) -> str:
    """The refresh token stored in ``path``.

    Raises ConfigError when the file is missing, empty, or readable by group or others.
    """
    try:
        with path.open(encoding="utf-8") as fh:
            mode = os.fstat(fh.fileno()).st_mode
            value = fh.read().strip()
    except (OSError, UnicodeDecodeError):
        raise ConfigError(f"{_FILE_KEY}: {path} does not exist or cannot be read") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"{_FILE_KEY}: {path} is readable by others; run chmod 600 {path}")
    if not value:
        raise ConfigError(f"{_FILE_KEY}: {path} is empty")
    return value


def save_refresh_token(path: Path, token: str) -> None:
    """Replace ``path`` with ``token`` atomically: mode 0600, same owner, fsynced.

    Raises OSError; ``path`` then still holds its old content.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            os.fchmod(fh.fileno(), 0o600)
            _keep_owner(fh.fileno(), path)
            fh.write(token + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_directory(path.parent)


def _keep_owner(fd: int, path: Path) -> None:
    # Run as root (say, a manual `triage poll`), a root-owned file would lock out the service user.
    with contextlib.suppress(OSError):
        st = path.stat()
        if (st.st_uid, st.st_gid) != (os.getuid(), os.getgid()):
            os.fchown(fd, st.st_uid, st.st_gid)


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _check_token_url(url: str) -> None:
    """Refuse a token URL that would send secrets in clear text; raises ConfigError."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname and _is_loopback(parts.hostname):
        return
    raise ConfigError(f"imap.oauth2.token_url: expected an https:// URL (http:// only on "
                      f"loopback), got {url!r}")


def _is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _post_form(url: str, form: Mapping[str, str], timeout: float,
               secrets: Iterable[str]) -> dict[str, Any]:
    """POST ``form`` to the token endpoint; its JSON object, error replies included.

    Raises AuthError when the endpoint cannot be reached or does not answer JSON.
    """
    request = urllib.request.Request(  # noqa: S310 - scheme checked by _check_token_url
        url, data=urllib.parse.urlencode(form).encode("ascii"), method="POST",
        headers={"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"})
    try:
        status, body = _send(request, timeout)
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise AuthError(_clean(f"OAuth2 token endpoint {_where(url)} unreachable: {reason}",
                               secrets)) from None
    return _json_reply(url, status, body)


def _send(request: urllib.request.Request, timeout: float) -> tuple[int, bytes]:
    """The HTTP status and body (at most 1 MiB) of ``request``; error statuses are returned."""
    context = ssl.create_default_context()
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:  # noqa: S310
            return int(response.status), response.read(_MAX_RESPONSE_BYTES)
    except urllib.error.HTTPError as exc:
        try:
            return exc.code, exc.read(_MAX_RESPONSE_BYTES)
        finally:
            exc.close()


def _json_reply(url: str, status: int, body: bytes) -> dict[str, Any]:
    try:
        reply = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        reply = None
    if isinstance(reply, dict) and (status == 200 or "error" in reply):
        return reply
    if status != 200:
        raise AuthError(f"OAuth2 token refresh refused by {_where(url)}: HTTP {status}")
    raise AuthError(f"OAuth2 token endpoint {_where(url)} did not answer with a JSON object")


def _grant(url: str, reply: Mapping[str, Any], secrets: Iterable[str]) -> tuple[str, float]:
    """The access token and its lifetime in seconds; raises AuthError for an error reply."""
    if "error" in reply:
        raise AuthError(_refusal(url, reply, secrets))
    token = reply.get("access_token")
    if not isinstance(token, str) or not token:
        raise AuthError(f"OAuth2 token endpoint {_where(url)} answered without an access_token")
    return token, _lifetime(reply.get("expires_in"))


def _lifetime(value: Any) -> float:
    """``expires_in`` as seconds (some providers send a string), else the assumed lifetime."""
    if isinstance(value, bool):
        return ASSUMED_LIFETIME_SECONDS
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return ASSUMED_LIFETIME_SECONDS
    if not math.isfinite(seconds):
        return ASSUMED_LIFETIME_SECONDS
    return max(seconds, 0.0)


def _refusal(url: str, reply: Mapping[str, Any], secrets: Iterable[str]) -> str:
    """One line from an RFC 6749 5.2 error reply (``error``, ``error_description``)."""
    text = f"OAuth2 token refresh refused by {_where(url)}: {reply.get('error')}"
    description = reply.get("error_description")
    if isinstance(description, str) and description.strip():
        text += f" ({description})"
    return _clean(text, secrets)


def _clean(text: str, secrets: Iterable[str]) -> str:
    """``text`` on one short line, with any secret it may echo replaced by [redacted]."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    text = " ".join(text.split())
    return text if len(text) <= 300 else text[:297] + "..."


def _where(url: str) -> str:
    """The endpoint's host[:port] for messages (never a user:password@ part or query)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or "?"
    return f"{host}:{parts.port}" if parts.port else host
