"""The triage benchmark: throughput against a floor, memory, latency, classifier speed.

    .venv/bin/python bench/run.py [--messages 2000] [--backlog 10000] [--latency 20] [--quick]

Starts its own Dovecot on loopback, fills the inbox with generated realistic
messages (plain, HTML, multipart with a 50 KB attachment, replies quoting
earlier mail with case references, auto-replies), runs ``triage poll --once``
over them on SQLite and on PostgreSQL, and prints messages per second, the
milliseconds per message of each station, peak memory (RSS) and database size.
In the same run it measures the floor (the same messages fetched with
imapclient in one batch, parsed, one draft APPENDed per message, nothing else)
and prints the ratio triage / floor. Then: peak memory over a larger backlog,
the time from APPEND of a new complaint to its draft in Drafts with
``triage run`` idle (IDLE), and the classifier's training and prediction speed.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import mailparser  # noqa: E402
from imapclient import IMAPClient  # noqa: E402

from triage.localserver import PASSWORD, LocalDovecot  # noqa: E402

PG_ADMIN = os.environ.get("TRIAGE_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
CONFIG = """
[team]
address = "complaints@example.org"
max_drafts_per_address_per_day = 1000
[imap]
host = "127.0.0.1"
port = {port}
security = "none"
username = "{user}"
password_env = "TRIAGE_IMAP_PASSWORD"
[database]
url = "{db}"
[poll]
interval_seconds = 60
batch_size = {batch}
[classifier]
model_dir = "{root}/models"
[publications]
file = "{root}/data/publications.csv"
[templates]
dir = "{root}/templates"
[logging]
level = "WARNING"
"""


# ------------------------------------------------------------------ messages


def corpus_texts() -> list[tuple[str, str, str]]:
    """(sender, subject, body) from the training examples, as realistic raw material."""
    from triage.config import LimitsConfig
    from triage.message import parse

    limits = LimitsConfig(5_000_000, 200, 20_000)
    out = []
    for path in sorted((ROOT / "training_data").glob("*/*.eml")):
        e = parse(path.read_bytes(), limits)
        if e.new_text.strip() and e.from_addr:
            out.append((f"{e.from_name} <{e.from_addr}>", e.subject or "(no subject)", e.new_text))
    return out


def generate(n: int, seed: int = 1) -> list[bytes]:
    """``n`` messages in five shapes: plain, HTML, 50 KB attachment, quoted reply with
    a case reference, auto-reply."""
    rnd = random.Random(seed)
    texts = corpus_texts()
    out = []
    for i in range(n):
        sender, subject, body = texts[rnd.randrange(len(texts))]
        shape = i % 5
        msg = EmailMessage()
        msg["From"], msg["To"] = sender, "complaints@example.org"
        msg["Date"] = format_datetime(datetime.now(UTC))
        msg["Message-ID"] = f"<bench.{uuid.uuid4().hex}@example.net>"
        msg["Subject"] = subject
        if shape == 3:
            ref = f"{rnd.randint(1, 9999):05d}-26"
            msg.replace_header("Subject", f"Re: {subject} [Ref {ref}]")
            msg["In-Reply-To"] = f"<triage.{ref}.m1.x@example.org>"
            body += "\n\nOn Mon, 2 Nov 2026 at 10:00, Complaints Team <complaints@example.org> wrote:\n" + \
                "\n".join("> " + line for line in texts[rnd.randrange(len(texts))][2].splitlines())
        if shape == 4:
            msg["Auto-Submitted"] = "auto-replied"
            msg.replace_header("Subject", f"Automatic reply: {subject}")
            body = "I am out of the office until Monday with limited access to email.\n"
        msg.set_content(body)
        if shape == 1:
            paras = "".join(f"<p>{p}</p>" for p in body.split("\n\n"))
            msg.add_alternative(f"<html><body>{paras}</body></html>", subtype="html")
        if shape == 2:
            msg.add_attachment(rnd.randbytes(50_000), maintype="application", subtype="pdf",
                               filename="evidence.pdf")
        out.append(msg.as_bytes())
    return out


def fill(server: LocalDovecot, user: str, messages: list[bytes]) -> None:
    c = IMAPClient("127.0.0.1", port=server.port, ssl=False, timeout=120)
    c.login(user, PASSWORD)
    for i in range(0, len(messages), 200):
        c.multiappend("INBOX", messages[i:i + 200])
    c.logout()


# ------------------------------------------------------------------ floor


def floor(server: LocalDovecot, user: str) -> float:
    """Seconds to fetch every message in one batch, parse it, APPEND one draft each."""
    c = IMAPClient("127.0.0.1", port=server.port, ssl=False, timeout=300)
    c.login(user, PASSWORD)
    c.create_folder("Drafts")
    c.select_folder("INBOX", readonly=True)
    started = time.perf_counter()
    data = c.fetch(c.search(["ALL"]), ["BODY.PEEK[]"])
    for item in data.values():
        parsed = mailparser.parse_from_bytes(item[b"BODY[]"])
        draft = EmailMessage()
        draft["From"], draft["To"] = "complaints@example.org", (parsed.from_ or [("", "x@y.z")])[0][1]
        draft["Subject"] = "Re: " + " ".join((parsed.subject or "")[:100].split())
        draft.set_content("Thank you for your email.")
        c.append("Drafts", draft.as_bytes(), [b"\\Draft"])
    elapsed = time.perf_counter() - started
    c.logout()
    return elapsed


# ------------------------------------------------------------------ triage runs


def database(kind: str, tmp: Path) -> tuple[str, callable]:
    if kind == "sqlite":
        path = tmp / f"bench-{uuid.uuid4().hex[:6]}.db"
        return f"sqlite:///{path}", lambda: sum(p.stat().st_size for p in tmp.glob(path.name + "*"))
    from sqlalchemy import create_engine, text

    name = "triage_bench_" + uuid.uuid4().hex[:8]
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name

    def size() -> int:
        with admin.connect() as conn:
            return int(conn.execute(text(f"SELECT pg_database_size('{name}')")).scalar())

    return url, size


def triage(config: Path, *args: str) -> tuple[str, float, int]:
    """Run the triage CLI in a fresh process: (stdout, wall seconds, peak RSS in KB)."""
    env = {**os.environ, "TRIAGE_IMAP_PASSWORD": PASSWORD}
    code = ("import resource, runpy, sys; sys.argv = ['triage'] + sys.argv[1:];\n"
            "try:\n    runpy.run_module('triage.cli', run_name='__main__')\n"
            "finally:\n    print('PEAK_RSS_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)")
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code, "--config", str(config), *args], env=env,
                         capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if out.returncode:
        raise SystemExit(f"triage {' '.join(args)} failed: {out.stderr[-2000:]}")
    rss = int(re.search(r"PEAK_RSS_KB (\d+)", out.stderr).group(1))
    return out.stdout, wall, rss


def run_triage(server: LocalDovecot, kind: str, messages: list[bytes], tmp: Path,
               batch: int = 100) -> dict:
    user = "t" + uuid.uuid4().hex[:8]
    fill(server, user, messages)
    url, size = database(kind, tmp)
    config = tmp / f"{user}.toml"
    config.write_text(CONFIG.format(port=server.port, user=user, db=url, root=ROOT, batch=batch))
    triage(config, "init")
    out, wall, rss = triage(config, "poll", "--once", "--timings")
    cycle = float(re.search(r"cycle seconds: ([\d.]+)", out).group(1))
    stations = dict(re.findall(r"(\w+) ([\d.]+)", out.split("ms per message:")[1].splitlines()[0]))
    recorded = int(re.search(r"(\d+) new message\(s\) recorded", out).group(1))
    assert recorded == len(messages), out[-500:]
    return {"wall": wall, "cycle": cycle, "rss_mb": rss / 1024, "stations": stations,
            "db_mb": size() / 1e6, "config": config, "user": user}


# ------------------------------------------------------------------ latency


def latency(server: LocalDovecot, tmp: Path, rounds: int) -> list[float]:
    """Seconds from APPEND of a new complaint to its draft in Drafts, `triage run` idle."""
    from tests.mail import COMPLAINT, message

    user = "l" + uuid.uuid4().hex[:8]
    url, _ = database("sqlite", tmp)
    config = tmp / f"{user}.toml"
    config.write_text(CONFIG.format(port=server.port, user=user, db=url, root=ROOT, batch=50))
    triage(config, "init")
    env = {**os.environ, "TRIAGE_IMAP_PASSWORD": PASSWORD}
    proc = subprocess.Popen([sys.executable, "-m", "triage.cli", "--config", str(config), "run"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    c = IMAPClient("127.0.0.1", port=server.port, ssl=False)
    c.login(user, PASSWORD)
    time.sleep(5)  # start-up and the first (empty) cycle; the service is then in IDLE
    results = []
    try:
        for i in range(rounds):
            mid = f"<latency.{i}.{uuid.uuid4().hex}@example.net>"
            raw = message(f"Person {i} <p{i}@example.net>", "Complaint about Daily Mail article",
                          COMPLAINT, msgid=mid)
            started = time.perf_counter()
            c.append("INBOX", raw)
            c.select_folder("Drafts", readonly=True)
            while not c.search(["HEADER", "In-Reply-To", mid]):
                if time.perf_counter() - started > 60:
                    raise SystemExit("no draft within 60 s")
                time.sleep(0.02)
                c.noop()
            results.append(time.perf_counter() - started)
            time.sleep(0.5)
    finally:
        proc.terminate()
        proc.wait(30)
        c.logout()
    return results


# ------------------------------------------------------------------ classifier


def classifier_speed(train_size: int) -> dict:
    """Training time on ``train_size`` examples and classification speed (see bench/classifier.py)."""
    from bench.classifier import LIMITS, classification_ms, resampled, training_seconds
    from triage import training
    from triage.classifier import Classifier
    from triage.publications import PublicationIndex, read_csv

    pubs = PublicationIndex(read_csv(ROOT / "data" / "publications.csv"))
    base = training.load_directory(ROOT / "training_data", LIMITS)
    ds = resampled(base, train_size)
    batch_ms, single_ms = classification_ms(Classifier.load(ROOT / "models", pubs), base.emails[:1000])
    return {"train_seconds": training_seconds(ds, pubs), "train_size": len(ds), "batch_ms": batch_ms,
            "single_ms": single_ms}


# ------------------------------------------------------------------ main


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--messages", type=int, default=2000)
    p.add_argument("--backlog", type=int, default=10000, help="messages for the memory run (0: skip)")
    p.add_argument("--latency", type=int, default=20, help="rounds of the latency run (0: skip)")
    p.add_argument("--train-size", type=int, default=10000)
    p.add_argument("--quick", action="store_true", help="500 messages, no backlog, 5 latency rounds")
    args = p.parse_args()
    if args.quick:
        args.messages, args.backlog, args.latency, args.train_size = 500, 0, 5, 2000
    tmp = Path(tempfile.mkdtemp(prefix="triage-bench-"))
    server = LocalDovecot().start()
    try:
        print(f"generating {args.messages} messages ...", flush=True)
        messages = generate(args.messages)
        floor_user = "f" + uuid.uuid4().hex[:8]
        fill(server, floor_user, messages)
        floor_s = floor(server, floor_user)
        print(f"\nfloor (imapclient fetch in one batch + mail-parser + one APPEND each): "
              f"{floor_s:.1f} s, {args.messages / floor_s:.0f} msg/s")
        for kind in ("sqlite", "postgresql"):
            r = run_triage(server, kind, messages, tmp)
            st = ", ".join(f"{k} {float(v):.2f}" for k, v in r["stations"].items())
            print(f"\ntriage on {kind}: {args.messages} messages")
            print(f"  cycle {r['cycle']:.1f} s = {args.messages / r['cycle']:.0f} msg/s "
                  f"(whole process incl. start-up {r['wall']:.1f} s = {args.messages / r['wall']:.0f} msg/s)")
            print(f"  ratio triage/floor: {r['cycle'] / floor_s:.2f} (cycle), {r['wall'] / floor_s:.2f} (process)")
            print(f"  ms per message by station: {st}")
            print(f"  peak RSS {r['rss_mb']:.0f} MB, database {r['db_mb']:.1f} MB")
        if args.backlog:
            r = run_triage(server, "sqlite", generate(args.backlog, seed=2), tmp)
            print(f"\nbacklog of {args.backlog} on sqlite: cycle {r['cycle']:.1f} s "
                  f"({args.backlog / r['cycle']:.0f} msg/s), peak RSS {r['rss_mb']:.0f} MB")
        if args.latency:
            lat = latency(server, tmp, args.latency)
            print(f"\nnew mail to draft with `triage run` (IDLE), {len(lat)} rounds: "
                  f"median {statistics.median(lat):.2f} s, worst {max(lat):.2f} s")
        c = classifier_speed(args.train_size)
        print(f"\nclassifier: training on {c['train_size']} examples {c['train_seconds']:.1f} s; "
              f"classification {c['batch_ms']:.2f} ms/message in batches, {c['single_ms']:.2f} ms one at a time")
    finally:
        server.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
