"""Run the demo: a seeded local Dovecot, one poll cycle, a summary (see scripts/demo)."""

from __future__ import annotations

import email
import os
import subprocess
import sys
from email.header import decode_header, make_header
from pathlib import Path

from imapclient import IMAPClient

from triage.config import load_config
from triage.localserver import PASSWORD, LocalDovecot

ROOT = Path(__file__).resolve().parents[1]
TRIAGE = [str(ROOT / ".venv" / "bin" / "triage"), "--config", str(ROOT / "config.toml")]


def run(*args: str) -> str:
    out = subprocess.run([*TRIAGE, *args], check=True, capture_output=True, text=True,
                         env={**os.environ, "TRIAGE_IMAP_PASSWORD": PASSWORD})
    return out.stdout


def header(value: str | None) -> str:
    return " ".join(str(make_header(decode_header(value or ""))).split())


def main() -> int:
    cfg = load_config(ROOT / "config.toml")
    db = Path(cfg.database_url.removeprefix("sqlite:///"))
    for stale in db.parent.glob(db.name + "*"):
        stale.unlink()
    server = LocalDovecot(port=cfg.imap.port)
    try:
        server.start()
    except RuntimeError as exc:
        print(f"demo: could not start Dovecot on port {cfg.imap.port}: {exc}", file=sys.stderr)
        return 1
    try:
        client = IMAPClient("127.0.0.1", port=cfg.imap.port, ssl=False)
        client.login(cfg.imap.username, PASSWORD)
        samples = sorted((ROOT / "demo" / "inbox").glob("*.eml"))
        for path in samples:
            client.append("INBOX", path.read_bytes())
        print(f"== seeded {len(samples)} messages into a local Dovecot (127.0.0.1:{cfg.imap.port})\n")
        print("== triage init\n" + run("init"))
        print("== triage poll --once\n" + run("poll", "--once"))
        print("== triage cases\n" + run("cases"))
        for line in run("cases", "--json").splitlines():
            ref = line.split('"reference": "')[1].split('"')[0]
            print(f"== triage show {ref}\n" + run("show", ref))
        print("== drafts waiting in the Drafts folder")
        client.select_folder(cfg.imap.drafts, readonly=True)
        uids = client.search(["ALL"])
        for _, data in sorted(client.fetch(uids, ["BODY.PEEK[]"]).items()):
            msg = email.message_from_bytes(data[b"BODY[]"])
            body = msg.get_payload(decode=True).decode("utf-8", "replace").strip().splitlines()
            print(f"  To: {header(msg['To'])}\n  Subject: {header(msg['Subject'])}\n"
                  f"  | {body[0]}\n  | {body[2] if len(body) > 2 else ''}\n")
        print("== mailbox folders after triage")
        for _flags, _delim, name in sorted(client.list_folders(), key=lambda f: f[2]):
            count = client.folder_status(name, [b"MESSAGES"])[b"MESSAGES"]
            print(f"  {name:<40} {count}")
        print("\n== triage stats\n" + run("stats"))
        client.logout()
    finally:
        server.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
