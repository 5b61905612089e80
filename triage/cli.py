"""The ``triage`` command: argument parsing, output formats and exit codes.

Errors triage raises on purpose are printed as one line (``triage: error: …``)
with exit code 1 (2 for configuration and usage); tracebacks only with
``--debug``.
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from triage import __version__, app, logs
from triage.config import CATEGORIES, Config, config_path, load_config
from triage.errors import TriageError
from triage.store import Store

log = logging.getLogger("triage")
Handler = Callable[[argparse.Namespace], int]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logs.configure(debug=args.debug, level=None)
    try:
        return int(args.handler(args))
    except TriageError as exc:
        if args.debug:
            raise
        print(f"triage: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


def _config(args: argparse.Namespace) -> Config:
    cfg = load_config(config_path(args.config))
    logs.configure(debug=args.debug, level=cfg.log_level)
    return cfg


def _database(args: argparse.Namespace) -> tuple[Config, Store]:
    """The configuration and its database, refusing an uninitialised or outdated schema."""
    cfg = _config(args)
    db = app.open_store(cfg)
    db.check_schema()
    return cfg, db


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, ensure_ascii=False, default=str))


def _actor(args: argparse.Namespace) -> str:
    return getattr(args, "actor", None) or getpass.getuser()


# ------------------------------------------------------------------ init / poll / run


def cmd_init(args: argparse.Namespace) -> int:
    cfg = _config(args)
    db = app.open_store(cfg)
    revision = db.upgrade()
    print(f"database ready (schema {revision})")
    if cfg.publications_file and cfg.publications_file.exists():
        with db.transaction() as s:
            from triage import store

            empty = not store.publications(s)
        if empty:
            changes = app.import_publications(db, cfg.publications_file)
            print(f"imported {len(changes['added'])} publications from {cfg.publications_file}")
    if args.no_mailbox:
        return 0
    box = app.connect(cfg)()
    try:
        created = box.ensure_folders(app.service_folders(cfg))
    finally:
        box.close()
    print(f"mailbox ready ({len(created)} folder(s) created{': ' + ', '.join(created) if created else ''})")
    return 0


def cmd_poll(args: argparse.Namespace) -> int:
    from triage import pipeline
    from triage.store import MailboxLock

    cfg = _config(args)
    ctx = app.build_context(cfg)
    lock = MailboxLock(ctx.store, ctx.inbox_key)
    if not lock.acquire():
        print("another triage instance is working on this mailbox; nothing done")
        return 0
    try:
        box = app.connect(cfg)()
        started = time.perf_counter()
        try:
            report = pipeline.run_cycle(ctx, box)
        finally:
            box.close()
        elapsed = time.perf_counter() - started
    finally:
        lock.release()
    for outcome in report.outcomes:
        print(outcome.line())
    print(report.totals())
    if args.timings:
        n = max(1, len(report.outcomes))
        print("ms per message: " + ", ".join(f"{name} {secs * 1000 / n:.2f}"
                                             for name, secs in ctx.timings.seconds.items()))
        print(f"cycle seconds: {elapsed:.2f}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from triage.service import Service

    cfg = _config(args)
    ctx = app.build_context(cfg)
    svc = Service(ctx, app.connect(cfg), extra_jobs=_digest_job(cfg, ctx))
    svc.install_signals()
    svc.run()
    return 0


def _digest_job(cfg: Config, ctx: Any) -> Callable[[Any], None] | None:
    if not cfg.digest.enabled:
        return None

    def add(scheduler: Any) -> None:
        from triage import digest

        scheduler.every().day.at(cfg.digest.send_at.strftime("%H:%M")).do(
            digest.scheduled_send, cfg, ctx.store)
        # Catch up after a restart past the send time: the delivery record
        # makes a second send for the same day impossible.
        scheduler.every(10).minutes.do(digest.catch_up, cfg, ctx.store)

    return add


# ------------------------------------------------------------------ classify


def cmd_classify(args: argparse.Namespace) -> int:
    from triage.classifier import Classifier
    from triage.config import LimitsConfig
    from triage.message import parse
    from triage.publications import PublicationIndex, read_csv

    limits = LimitsConfig(40 * 1024 * 1024, 500, 200_000)
    model_dir, pubs_file, threshold, thresholds = Path(args.models or "models"), Path(
        "data/publications.csv"), None, None
    path = config_path(args.config)
    if path.exists():
        cfg = _config(args)
        limits, threshold, thresholds = cfg.limits, cfg.classifier.threshold, cfg.classifier.thresholds
        model_dir = Path(args.models) if args.models else cfg.classifier.model_dir
        pubs_file = cfg.publications_file or pubs_file
    pubs = PublicationIndex(read_csv(pubs_file)) if pubs_file.exists() else PublicationIndex([])
    clf = Classifier.load(model_dir, pubs, threshold=threshold, thresholds=thresholds)
    status = 0
    for name in args.files:
        try:
            raw = Path(name).read_bytes()
        except OSError as exc:
            print(f"triage: error: {name}: {exc.strerror}", file=sys.stderr)
            status = 1
            continue
        v = clf.classify(parse(raw, limits))
        if args.json:
            _print_json({"file": name, "category": v.category, "confidence": round(v.confidence, 4),
                         "needs_review": v.needs_review, "by": v.by, "reason": v.reason})
        else:
            review = "  NEEDS REVIEW" if v.needs_review else ""
            why = f"  ({v.reason})" if v.reason else ""
            print(f"{name}: {v.category} {v.confidence:.2f}{review}{why}")
    return status


# ------------------------------------------------------------------ cases


def cmd_cases(args: argparse.Namespace) -> int:
    from triage import reports

    _cfg, db = _database(args)
    with db.transaction() as s:
        rows = reports.case_rows(s, open_only=args.open)
    if args.json:
        for row in rows:
            _print_json(row)
        return 0
    if not rows:
        print("no cases")
    for r in rows:
        print(f"{r['reference']}  {r['stage']:<13} {r['publication'] or '(publication unknown)':<26} "
              f"{r['complainant_email']:<32} {r['messages']} message(s)  opened {r['opened_at'][:10]}"
              + (f"  next deadline {r['next_deadline']}" if r.get("next_deadline") else ""))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from triage import reports

    _cfg, db = _database(args)
    with db.transaction() as s:
        detail = reports.case_detail(s, args.reference)
    if args.json:
        _print_json(detail)
    else:
        print(reports.format_case(detail))
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    from triage import reports

    _cfg, db = _database(args)
    with db.transaction() as s:
        stats = reports.stats(s)
    if args.json:
        _print_json(stats)
        return 0
    print(f"messages: {stats['messages']}  cases: {stats['cases']}  drafts: {stats['drafts']}")
    print(f"needs review: {stats['needs_review']}  parse failures: {stats['parse_failures']}  "
          f"quarantined: {stats['quarantined']}  corrections: {stats['corrections']}")
    for cat in CATEGORIES:
        print(f"  {cat:<24} {stats['by_category'].get(cat, 0)}")
    return 0


def cmd_case(args: argparse.Namespace) -> int:
    from triage import corrections

    cfg = _config(args)
    ctx = app.build_context(cfg)
    actor = _actor(args)
    if args.case_command == "link":
        print(corrections.link(ctx, args.message, args.reference, actor))
    elif args.case_command == "stage":
        at = datetime.fromisoformat(args.at) if args.at else None
        print(corrections.stage(ctx, args.reference, args.stage, actor, at=at, decision=args.decision))
    elif args.case_command == "merge":
        print(corrections.merge(ctx, args.source, args.target, actor))
    elif args.case_command == "category":
        print(corrections.recategorise(ctx, args.message, args.category, actor))
    return 0


def cmd_deadlines(args: argparse.Namespace) -> int:
    from triage import reports

    _cfg, db = _database(args)
    today = date.fromisoformat(args.today) if args.today else date.today()
    with db.transaction() as s:
        rows = reports.deadline_rows(s, today, args.days)
    if args.json:
        for row in rows:
            _print_json(row)
        return 0
    if not rows:
        print(f"nothing due in the next {args.days} day(s)")
    for r in rows:
        when = "OVERDUE" if r["overdue"] else f"in {r['days_left']} day(s)"
        print(f"{r['due']}  {when:<14} {r['reference']}  {r['kind']} ({r['party']})")
    return 0


# ------------------------------------------------------------------ publications


def cmd_publications(args: argparse.Namespace) -> int:
    from triage.publications import write_csv

    _cfg, db = _database(args)
    if args.pub_command == "import":
        changes = app.import_publications(db, Path(args.file))
        print(f"{len(changes['added'])} added, {len(changes['updated'])} updated, "
              f"{len(changes['unchanged'])} unchanged")
        for kind in ("added", "updated"):
            for name in changes[kind]:
                print(f"  {kind}: {name}")
        return 0
    items = app.stored_publications(db)
    text = write_csv(items)
    if args.file:
        Path(args.file).write_text(text, encoding="utf-8")
        print(f"wrote {len(items)} publications to {args.file}")
    else:
        sys.stdout.write(text)
    return 0


# ------------------------------------------------------------------ models


def cmd_train(args: argparse.Namespace) -> int:
    from triage import corrections, training

    cfg = _config(args)
    data_dir = Path(args.data) if args.data else cfg.path.parent / "training_data"
    progress = training.stderr_progress()
    progress(f"reading {data_dir}")
    ds = training.load_directory(data_dir, cfg.limits)
    sources = {"training_data": len(ds)}
    if not args.no_corrections:
        db = app.open_store(cfg)
        db.check_schema()
        examples = corrections.training_examples(db)
        training.add_examples(ds, examples, cfg.limits)
        sources["corrections"] = len(examples)
        progress(f"{len(examples)} staff correction(s) added")
        pubs = app.publication_index(cfg, db)
    else:
        pubs = app.publication_index(cfg)
    result = training.train(ds, pubs, cfg.classifier.model_dir, force=args.force, progress=progress,
                            sources=sources)
    print(result.message)
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from triage import evaluation, training

    cfg = _config(args)
    data_dir = Path(args.data) if args.data else cfg.path.parent / "training_data"
    ds = training.load_directory(data_dir, cfg.limits)
    result = training.evaluate(ds, app.publication_index(cfg), folds=args.folds,
                               progress=training.stderr_progress())
    out_json = Path(args.json_out or "evaluation.json")
    out_html = Path(args.html_out or "evaluation.html")
    out_json.write_text(json.dumps(result, indent=2) + "\n")
    out_html.write_text(evaluation.render_html(result, cfg.templates_dir))
    print(evaluation.format_text(result))
    print(f"\nwrote {out_json} and {out_html}")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from triage import training
    from triage.classifier import read_registry

    cfg = _config(args)
    model_dir = cfg.classifier.model_dir
    if args.models_command == "promote":
        training.promote(model_dir, args.version)
        print(f"promoted {args.version}")
        return 0
    if args.models_command == "rollback":
        print(f"rolled back to {training.rollback(model_dir)}")
        return 0
    active = read_registry(model_dir).get("active")
    for card in training.list_models(model_dir):
        ev = card.data.get("evaluation", {}).get("held_out", {})
        n = sum(card.data.get("training_examples", {}).values())
        mark = "*" if card.version == active else " "
        print(f"{mark} {card.version}  {card.data.get('created', '?')}  examples {n}  "
              f"held-out macro-F1 {ev.get('macro_f1', float('nan')):.3f}  "
              f"threshold {card.data.get('threshold')}")
    return 0


# ------------------------------------------------------------------ digest / purge


def cmd_digest(args: argparse.Namespace) -> int:
    from triage import digest

    cfg, db = _database(args)
    day = date.fromisoformat(args.day) if args.day else date.today() - timedelta(days=1)
    if args.out:
        content = digest.build(cfg, db, day)
        Path(args.out).write_text(content.html, encoding="utf-8")
        if args.text:
            Path(args.text).write_text(content.text, encoding="utf-8")
        print(f"wrote {args.out}")
    if args.send:
        print(digest.send_now(cfg, db, day))
    if not args.out and not args.send:
        print(digest.build(cfg, db, day).text)
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    from triage import retention

    _cfg, db = _database(args)
    result = retention.purge(db, older_than_days=args.older_than, actor=_actor(args),
                             dry_run=args.dry_run)
    print(result)
    return 0


# ------------------------------------------------------------------ parser


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="triage", description="Triage for a complaints team's inbox.")
    p.add_argument("--config", help="config file (default: $TRIAGE_CONFIG or ./config.toml)")
    p.add_argument("--debug", action="store_true", help="verbose logs and tracebacks")
    p.add_argument("--version", action="version", version=f"triage {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler: Handler, help_: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help_, description=help_)
        sp.set_defaults(handler=handler)
        return sp

    sp = add("init", cmd_init, "create or upgrade the database and the mailbox folders")
    sp.add_argument("--no-mailbox", action="store_true", help="do not connect to IMAP")
    sp = add("poll", cmd_poll, "one full cycle over every new message")
    sp.add_argument("--once", action="store_true", help="run one cycle and exit (the default)")
    sp.add_argument("--timings", action="store_true", help="print the time each station took")
    add("run", cmd_run, "the long-running service")
    sp = add("classify", cmd_classify, "classify .eml files offline")
    sp.add_argument("--json", action="store_true", help="one JSON object per line")
    sp.add_argument("--models", help="model folder (default from config, else ./models)")
    sp.add_argument("files", nargs="+", metavar="FILE.eml")
    sp = add("cases", cmd_cases, "list cases")
    sp.add_argument("--json", action="store_true")
    sp.add_argument("--open", action="store_true", help="open cases only")
    sp = add("show", cmd_show, "one case with its messages, categories and drafts")
    sp.add_argument("reference")
    sp.add_argument("--json", action="store_true")
    sp = add("stats", cmd_stats, "what is recorded")
    sp.add_argument("--json", action="store_true")
    _case_parser(add)
    sp = add("deadlines", cmd_deadlines, "deadlines due or overdue, soonest first")
    sp.add_argument("--json", action="store_true")
    sp.add_argument("--days", type=int, default=7, help="look this many days ahead (default 7)")
    sp.add_argument("--today", help=argparse.SUPPRESS)
    sp = add("publications", cmd_publications, "import or export the members' publications list")
    psub = sp.add_subparsers(dest="pub_command", required=True)
    psub.add_parser("import").add_argument("file")
    psub.add_parser("export").add_argument("file", nargs="?")
    sp = add("train", cmd_train, "train a model and promote it unless it is worse")
    sp.add_argument("--force", action="store_true", help="promote even if worse")
    sp.add_argument("--data", help="training data folder (default: training_data beside config)")
    sp.add_argument("--no-corrections", action="store_true", help="ignore staff corrections")
    sp = add("evaluate", cmd_evaluate, "cross-validation report (text, JSON and HTML)")
    sp.add_argument("--data")
    sp.add_argument("--folds", type=int, default=5)
    sp.add_argument("--json-out", help="default evaluation.json")
    sp.add_argument("--html-out", help="default evaluation.html")
    sp = add("models", cmd_models, "list, promote or roll back model versions")
    msub = sp.add_subparsers(dest="models_command")
    msub.add_parser("list")
    msub.add_parser("promote").add_argument("version")
    msub.add_parser("rollback")
    sp = add("digest", cmd_digest, "render or send the supervisors' digest")
    sp.add_argument("--out", help="write the HTML digest to this file")
    sp.add_argument("--text", help="also write the plain-text part to this file")
    sp.add_argument("--send", action="store_true", help="send it now")
    sp.add_argument("--day", help="the day to report (default: yesterday)")
    sp = add("purge", cmd_purge, "delete personal data of cases closed longer than the period")
    sp.add_argument("--older-than", type=int, required=True, metavar="DAYS")
    sp.add_argument("--dry-run", action="store_true")
    sp.add_argument("--actor")
    return p


def _case_parser(add: Callable[[str, Handler, str], argparse.ArgumentParser]) -> None:
    sp = add("case", cmd_case, "correct the service: link, stage, merge, category")
    csub = sp.add_subparsers(dest="case_command", required=True)
    actor = argparse.ArgumentParser(add_help=False)
    actor.add_argument("--actor", help="who is making the change (default: your login name)")
    c = csub.add_parser("link", help="put a message on a case", parents=[actor])
    c.add_argument("message", help="message number (from 'triage show') or Message-ID")
    c.add_argument("reference")
    c = csub.add_parser("stage", help="move a case to a stage", parents=[actor])
    c.add_argument("reference")
    c.add_argument("stage")
    c.add_argument("--decision", choices=("assessment", "committee"),
                   help="for stage 'decision': which decision (sets the review window)")
    c.add_argument("--at", help="when it happened (ISO date/time, default now)")
    c = csub.add_parser("merge", help="merge case SOURCE into case TARGET", parents=[actor])
    c.add_argument("source")
    c.add_argument("target")
    c = csub.add_parser("category", help="correct a message's category", parents=[actor])
    c.add_argument("message")
    c.add_argument("category", choices=CATEGORIES)


if __name__ == "__main__":
    sys.exit(main())

