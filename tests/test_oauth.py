"""OAuth2 token refresh against a real token endpoint on loopback, and XOAUTH2
login to a real Dovecot that asks the same provider to introspect each token.

Time is frozen: the token source and the provider share one clock the tests move.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import secrets
import stat
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from imapclient import IMAPClient
from imapclient.exceptions import LoginError

import triage.oauth
from tests.conftest import imap
from triage.app import credentials
from triage.config import Config, OAuth2Config, load_config
from triage.errors import AuthError, ConfigError
from triage.localserver import PASSWORD, LocalDovecot, free_port
from triage.mailbox import Mailbox
from triage.oauth import RENEW_BEFORE_SECONDS, TokenSource

CLIENT_ID = "triage-test-client"
CLIENT_SECRET = "cs-" + secrets.token_urlsafe(24)
SCOPE = "https://outlook.office.com/IMAP.AccessAsUser.All offline_access"
LIFETIME = 600


class Clock:
    """Frozen monotonic time that only moves when a test says so."""

    def __init__(self) -> None:
        self.now = 10_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Provider:
    """A small OAuth2 provider: ``/token`` issues access tokens living LIFETIME
    seconds and rotates the refresh token on every refresh (the old one is then
    refused with invalid_grant); ``/introspect`` answers Dovecot (RFC 7662)."""

    def __init__(self, clock: Clock, username: str) -> None:
        self.clock = clock
        self.username = username
        self.refresh_token = "rt-" + secrets.token_urlsafe(32)
        self.access: dict[str, float] = {}  # access token -> expiry
        self.token_requests: list[dict[str, str]] = []
        self.introspected: list[str] = []
        self.raw_reply: tuple[int, bytes] | None = None  # to simulate broken endpoints
        self.lock = threading.Lock()
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                with provider.lock:
                    status, body = provider.answer(self.path, form)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def answer(self, path: str, form: dict[str, str]) -> tuple[int, bytes]:
        if path == "/introspect":
            return 200, json.dumps(self.introspect(form.get("token", ""))).encode()
        self.token_requests.append(form)
        if self.raw_reply:
            return self.raw_reply
        status, reply = self.refresh(form)
        return status, json.dumps(reply).encode()

    def refresh(self, form: dict[str, str]) -> tuple[int, dict[str, object]]:
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return 401, {"error": "invalid_client"}
        if form.get("grant_type") != "refresh_token" or form.get("refresh_token") != self.refresh_token:
            # Like some real providers, echo the offending token back.
            return 400, {"error": "invalid_grant",
                         "error_description": f"refresh token {form.get('refresh_token')} expired or revoked"}
        access = "at-" + secrets.token_urlsafe(32)
        self.access[access] = self.clock() + LIFETIME
        self.refresh_token = "rt-" + secrets.token_urlsafe(32)
        return 200, {"access_token": access, "token_type": "Bearer", "expires_in": LIFETIME,
                     "refresh_token": self.refresh_token, "scope": form.get("scope", "")}

    def introspect(self, token: str) -> dict[str, object]:
        self.introspected.append(token)
        if self.access.get(token, 0.0) > self.clock():
            return {"active": True, "username": self.username, "scope": SCOPE}
        return {"active": False}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


CONFIG = """
[team]
address = "complaints@example.org"

[imap]
host = "127.0.0.1"
port = {port}
security = "none"
username = "{user}"
auth = "xoauth2"
timeout_seconds = 20

[imap.oauth2]
token_url = "{token_url}"
client_id = "{client_id}"
client_secret_file = "client-secret"
refresh_token_file = "refresh-token"
scope = "{scope}"
"""


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def provider(clock: Clock, imap_user: str) -> Iterator[Provider]:
    p = Provider(clock, imap_user)
    yield p
    p.close()


def write_private(path: Path, text: str) -> None:
    path.write_text(text + "\n")
    path.chmod(0o600)


@pytest.fixture
def make_oauth_config(tmp_path: Path, provider: Provider, imap_user: str):
    """A config.toml for an XOAUTH2 mailbox, with its client secret and refresh token files."""
    write_private(tmp_path / "client-secret", CLIENT_SECRET)
    write_private(tmp_path / "refresh-token", provider.refresh_token)

    def make(port: int = 143, token_url: str | None = None) -> Config:
        path = tmp_path / "config.toml"
        path.write_text(CONFIG.format(port=port, user=imap_user, client_id=CLIENT_ID, scope=SCOPE,
                                      token_url=token_url or provider.url + "/token"))
        return load_config(path)

    return make


@pytest.fixture
def oauth(make_oauth_config) -> OAuth2Config:
    cfg = make_oauth_config().imap.oauth2
    assert cfg is not None
    return cfg


def test_token_is_cached_until_shortly_before_expiry(oauth: OAuth2Config, provider: Provider,
                                                      clock: Clock) -> None:
    source = TokenSource(oauth, clock=clock)
    first = source.access_token()
    assert first in provider.access
    assert source.access_token() == first
    clock.advance(LIFETIME - RENEW_BEFORE_SECONDS - 1)
    assert source.access_token() == first
    assert len(provider.token_requests) == 1

    clock.advance(2)  # now inside the renewal margin
    second = source.access_token()
    assert second != first and second in provider.access
    assert len(provider.token_requests) == 2
    sent = provider.token_requests[0]
    assert sent["grant_type"] == "refresh_token"
    assert (sent["client_id"], sent["client_secret"], sent["scope"]) == (CLIENT_ID, CLIENT_SECRET, SCOPE)


def test_rotated_refresh_token_is_saved_privately_and_used_next(
        oauth: OAuth2Config, provider: Provider, clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    path = oauth.refresh_token_file
    original = path.read_text().strip()
    source = TokenSource(oauth, clock=clock)
    tokens = [source.access_token()]

    rotated = path.read_text().strip()
    assert rotated == provider.refresh_token != original
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["client-secret", "config.toml", "refresh-token"]

    clock.advance(LIFETIME)
    tokens.append(source.access_token())
    assert provider.token_requests[1]["refresh_token"] == rotated
    assert path.read_text().strip() == provider.refresh_token != rotated

    restarted = TokenSource(oauth, clock=clock)  # a new process starts from the file
    tokens.append(restarted.access_token())
    assert len(set(tokens)) == 3
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for secret in [original, rotated, provider.refresh_token, CLIENT_SECRET, *tokens]:
        assert secret not in caplog.text


def test_refused_refresh_names_the_problem_but_no_token(oauth: OAuth2Config, provider: Provider,
                                                        clock: Clock) -> None:
    stale = "rt-" + secrets.token_urlsafe(32)
    write_private(oauth.refresh_token_file, stale)
    with pytest.raises(AuthError) as caught:
        TokenSource(oauth, clock=clock).access_token()
    message = str(caught.value)
    assert "invalid_grant" in message and "expired or revoked" in message
    assert str(oauth.refresh_token_file) in message and "sign in again" in message
    assert stale not in message and CLIENT_SECRET not in message
    assert "\n" not in message
    assert oauth.refresh_token_file.read_text().strip() == stale


def test_refresh_token_file_readable_by_others_is_refused(oauth: OAuth2Config, provider: Provider) -> None:
    oauth.refresh_token_file.chmod(0o644)
    with pytest.raises(ConfigError) as caught:
        TokenSource(oauth).access_token()
    assert str(oauth.refresh_token_file) in str(caught.value)
    assert f"chmod 600 {oauth.refresh_token_file}" in str(caught.value)
    assert provider.token_requests == []


@pytest.mark.parametrize(("reply", "expected"), [
    ((200, b"<html>maintenance</html>"), "did not answer with a JSON object"),
    ((200, b'{"token_type": "Bearer"}'), "without an access_token"),
    ((503, b"busy"), "HTTP 503"),
    ((401, b'{"error": "invalid_client", "error_description": "bad secret"}'), "invalid_client (bad secret)"),
])
def test_broken_token_endpoint_raises_auth_error(oauth: OAuth2Config, provider: Provider,
                                                 reply: tuple[int, bytes], expected: str) -> None:
    provider.raw_reply = reply
    with pytest.raises(AuthError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        TokenSource(oauth).access_token()


def test_unreachable_token_endpoint_raises_auth_error(make_oauth_config) -> None:
    cfg = make_oauth_config(token_url=f"http://127.0.0.1:{free_port()}/token").imap.oauth2
    with pytest.raises(AuthError, match="unreachable"):
        TokenSource(cfg, timeout=5).access_token()


def test_token_url_must_be_https_unless_loopback(make_oauth_config) -> None:
    cfg = make_oauth_config(token_url="http://login.example.com/token").imap.oauth2
    with pytest.raises(ConfigError, match="https://"):
        TokenSource(cfg)


@pytest.fixture
def oauth_dovecot(provider: Provider) -> Iterator[LocalDovecot]:
    server = LocalDovecot(oauth2_introspection_url=provider.url + "/introspect").start()
    yield server
    server.cleanup()


def test_xoauth2_login_to_dovecot_with_refreshed_tokens(
        make_oauth_config, provider: Provider, clock: Clock, oauth_dovecot: LocalDovecot,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The service's own wiring, with the provider's frozen clock.
    monkeypatch.setattr(triage.oauth, "TokenSource", functools.partial(TokenSource, clock=clock))
    cfg = make_oauth_config(port=oauth_dovecot.port)
    creds = credentials(cfg)

    box = Mailbox.connect(cfg.imap, creds)
    try:
        assert box.select("INBOX").exists == 0
    finally:
        box.close()
    first = provider.introspected[-1]
    assert first in provider.access and len(provider.token_requests) == 1

    clock.advance(LIFETIME)
    with pytest.raises(AuthError):  # Dovecot now refuses the expired token
        Mailbox.connect(cfg.imap, lambda: ("xoauth2", first))

    box = Mailbox.connect(cfg.imap, creds)
    try:
        assert box.select("INBOX").exists == 0
    finally:
        box.close()
    assert len(provider.token_requests) == 2
    assert provider.introspected[-1] != first
    assert provider.introspected[-1] in provider.access
    assert cfg.imap.oauth2 is not None
    assert cfg.imap.oauth2.refresh_token_file.read_text().strip() == provider.refresh_token


def test_oauth2_dovecot_keeps_passwords_for_plain_login_only(oauth_dovecot: LocalDovecot,
                                                             provider: Provider, imap_user: str) -> None:
    imap(oauth_dovecot, imap_user).logout()  # LOGIN with the static password still works
    client = IMAPClient(oauth_dovecot.host, port=oauth_dovecot.port, ssl=False, timeout=20)
    try:
        with pytest.raises(LoginError):  # but the password is no bearer token
            client.oauth2_login(imap_user, PASSWORD)
    finally:
        client.shutdown()
    assert provider.introspected == [PASSWORD]


def test_refresh_token_file_is_replaced_atomically(tmp_path: Path) -> None:
    path = tmp_path / "refresh-token"
    write_private(path, "old")
    path.chmod(0o400)
    triage.oauth.save_refresh_token(path, "new")
    assert path.read_text() == "new\n"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["refresh-token"]
