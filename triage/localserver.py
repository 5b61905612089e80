"""A throwaway Dovecot IMAP server on loopback, for the demo, tests and benchmarks.

Not used by the service itself. Needs Debian's ``dovecot-imapd``. Any user
name logs in with the password ``secret`` and gets an empty mailbox, so each
test can use a fresh user. Runs as root by dropping to Dovecot's own users.

With ``oauth2_introspection_url`` it also accepts XOAUTH2: Dovecot POSTs each
bearer token (``token=...``) to that URL and logs the user in when the JSON
answer has ``"active": true`` and ``"username"`` equal to the login name. The
static password then only applies to PLAIN and LOGIN, so a token is never
accepted because it happens to equal the password.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

PASSWORD = "secret"

_CONF = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = {ssl}
{ssl_files}
disable_plaintext_auth = no
auth_mechanisms = plain login{extra_mechanisms}
{auth_extra}default_login_user = dovenull
default_internal_user = dovecot
mail_uid = dovecot
mail_gid = dovecot
first_valid_uid = 1
mail_location = maildir:{root}/mail/%n
mail_max_userip_connections = 100
imap_idle_notify_interval = 1 secs
{oauth2_passdb}passdb {{
  driver = static
  args = password={password}
{static_mechanisms}}}
userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={root}/mail/%n
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {ssl_port}
  }}
}}
service anvil {{
  chroot =
{anvil_extra}}}
"""

_OAUTH2_PASSDB = """\
passdb {{
  driver = oauth2
  mechanisms = xoauth2
  args = {args}
}}
"""

# Tests refuse tokens on purpose; without these each refusal from 127.0.0.1
# delays the next logins by 2 s and more (auth_failure_delay, and anvil's
# penalty, which is off when the auth process cannot open its socket).
_NO_FAILURE_DELAY = "auth_failure_delay = 0\n"
_NO_PENALTY = """\
  unix_listener anvil-auth-penalty {
    mode = 0
  }
"""

# Dovecot 2.3 passdb-oauth2 settings (dovecot-oauth2.conf.ext): without a
# tokeninfo_url every token goes straight to the introspection endpoint.
_OAUTH2_CONF = """\
introspection_mode = post
introspection_url = {url}
username_attribute = username
active_attribute = active
active_value = true
timeout_msecs = 5000
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def find_dovecot() -> str:
    path = shutil.which("dovecot") or "/usr/sbin/dovecot"
    if not os.path.exists(path):
        raise RuntimeError("Dovecot is not installed: apt-get install dovecot-imapd")
    return path


class LocalDovecot:
    """Start with :meth:`start`, stop with :meth:`stop`; restartable on the same port."""

    def __init__(self, root: Path | None = None, port: int | None = None,
                 tls_cert: Path | None = None, tls_key: Path | None = None,
                 oauth2_introspection_url: str | None = None) -> None:
        self.root = Path(root or tempfile.mkdtemp(prefix="triage-dovecot-"))
        self.port = port or free_port()
        self.ssl_port = free_port() if tls_cert else 0
        self.tls = (tls_cert, tls_key) if tls_cert and tls_key else None
        self.oauth2_introspection_url = oauth2_introspection_url
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        return "127.0.0.1"

    def _write_config(self) -> Path:
        for sub in ("run", "state", "mail"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o755)
        dovecot = pwd.getpwnam("dovecot")
        os.chown(self.root / "mail", dovecot.pw_uid, dovecot.pw_gid)
        ssl_files = ""
        if self.tls:
            ssl_files = f"ssl_cert = <{self.tls[0]}\nssl_key = <{self.tls[1]}"
        conf = self.root / "dovecot.conf"
        conf.write_text(_CONF.format(root=self.root, port=self.port, password=PASSWORD,
                                     ssl="yes" if self.tls else "no", ssl_files=ssl_files,
                                     ssl_port=self.ssl_port, **self._oauth2_settings()))
        return conf

    def _oauth2_settings(self) -> dict[str, str]:
        """The dovecot.conf pieces for XOAUTH2 (all empty when it is not enabled)."""
        if not self.oauth2_introspection_url:
            return {"extra_mechanisms": "", "auth_extra": "", "oauth2_passdb": "",
                    "static_mechanisms": "", "anvil_extra": ""}
        args = self.root / "dovecot-oauth2.conf.ext"
        args.write_text(_OAUTH2_CONF.format(url=self.oauth2_introspection_url))
        return {"extra_mechanisms": " xoauth2", "auth_extra": _NO_FAILURE_DELAY,
                "anvil_extra": _NO_PENALTY,
                "oauth2_passdb": _OAUTH2_PASSDB.format(args=args),
                "static_mechanisms": "  mechanisms = plain login\n"}

    def start(self, timeout: float = 15.0) -> LocalDovecot:
        conf = self._write_config()
        log = open(self.root / "stderr.log", "ab")  # noqa: SIM115 - owned by the process
        self.proc = subprocess.Popen([find_dovecot(), "-F", "-c", str(conf)],
                                     stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dovecot exited: {self.log_tail()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5) as s:
                    if s.recv(100).startswith(b"* OK"):
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"dovecot did not start on port {self.port}: {self.log_tail()}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.proc = None
        # Dovecot's helper processes can outlive the master for a moment.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    time.sleep(0.05)
            except OSError:
                return

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_tail(self, n: int = 20) -> str:
        text = ""
        for name in ("dovecot.log", "stderr.log"):
            p = self.root / name
            if p.exists():
                text += p.read_text(errors="replace")
        return "\n".join(text.splitlines()[-n:])

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
