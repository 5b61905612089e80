"""Fill a throwaway mailbox with two weeks of mail, render the digest, screenshot it."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
from datetime import date, datetime, timedelta
from pathlib import Path

from imapclient import IMAPClient

from triage.localserver import PASSWORD, LocalDovecot

ROOT = Path(__file__).resolve().parents[1]
CONFIG = """
[team]
name = "Complaints Team"
address = "complaints@example.org"
[imap]
host = "127.0.0.1"
port = {port}
security = "none"
username = "complaints"
password_env = "TRIAGE_IMAP_PASSWORD"
[database]
url = "sqlite:///{tmp}/triage.db"
[classifier]
model_dir = "{root}/models"
[publications]
file = "{root}/data/publications.csv"
[templates]
dir = "{root}/templates"
[digest]
recipients = ["supervisors@example.org"]
"""


def triage(config: Path, *args: str) -> str:
    env = {**os.environ, "TRIAGE_IMAP_PASSWORD": PASSWORD}
    return subprocess.run([str(ROOT / ".venv/bin/triage"), "--config", str(config), *args], check=True,
                          capture_output=True, text=True, env=env).stdout


def main() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="triage-digest-"))
    server = LocalDovecot().start()
    try:
        config = tmp / "config.toml"
        config.write_text(CONFIG.format(port=server.port, tmp=tmp, root=ROOT))
        triage(config, "init")
        client = IMAPClient("127.0.0.1", port=server.port, ssl=False)
        client.login("complaints", PASSWORD)
        rnd = random.Random(7)
        today = date.today()
        files = sorted((ROOT / "eval_data").glob("*/*.eml")) + sorted((ROOT / "demo" / "inbox").glob("*.eml"))
        for path in files:
            back = rnd.choice(range(1, 15)) if "demo" not in str(path) else 1
            when = datetime.combine(today - timedelta(days=back), datetime.min.time()).astimezone() \
                + timedelta(hours=rnd.randint(7, 19), minutes=rnd.randint(0, 59))
            client.append("INBOX", path.read_bytes(), msg_time=when)
        client.logout()
        triage(config, "poll", "--once")
        cases = [line.split()[0] for line in triage(config, "cases").splitlines()]
        for i, ref in enumerate(cases[:6]):
            triage(config, "case", "stage", ref, "referred", "--actor", "demo",
                   "--at", (datetime.now().astimezone() - timedelta(days=27 - i)).isoformat())
        docs = ROOT / "docs"
        docs.mkdir(exist_ok=True)
        html = docs / "digest.html"
        triage(config, "digest", "--out", str(html), "--day", (today - timedelta(days=1)).isoformat())
        png = docs / "digest.png"
        subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                        "--no-first-run", "--disable-background-networking", "--disable-component-update",
                        "--disable-sync", f"--user-data-dir={tmp / 'chromium'}", "--hide-scrollbars",
                        f"--screenshot={png}", "--window-size=760,2300", html.as_uri()],
                       check=True, capture_output=True, timeout=120)
        print(f"wrote {html} and {png}")
    finally:
        server.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
