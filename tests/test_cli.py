"""The command line other tools drive: stable JSON outputs and staff corrections."""

from __future__ import annotations

import json

from tests.conftest import imap
from tests.mail import COMPLAINT, message
from triage import store
from triage.cli import main


def run(cfg, capsys, *args: str) -> str:
    capsys.readouterr()
    assert main(["--config", str(cfg.path), *args]) == 0
    return capsys.readouterr().out


def test_publications_import_export_is_idempotent_and_reports_changes(make_config, database_url, imap_user,
                                                                      tmp_path, capsys):
    cfg = make_config(database_url, imap_user)
    assert main(["--config", str(cfg.path), "init", "--no-mailbox"]) == 0
    exported = tmp_path / "pubs.csv"
    assert "wrote 120 publications" in run(cfg, capsys, "publications", "export", str(exported))
    assert run(cfg, capsys, "publications", "import", str(exported)).startswith("0 added, 0 updated, 120 unchanged")
    text = exported.read_text().replace("complaints@thesun.co.uk", "readers@thesun.co.uk")
    text += 'The Bugle,Bugle;thebugle.example,thebugle.example,news@thebugle.example,Independent\n'
    exported.write_text(text)
    out = run(cfg, capsys, "publications", "import", str(exported))
    assert out.startswith("1 added, 1 updated, 119 unchanged") and "added: The Bugle" in out and "updated: The Sun" in out
    assert run(cfg, capsys, "publications", "import", str(exported)).startswith("0 added, 0 updated, 121 unchanged")


def test_json_outputs_and_case_corrections(make_config, database_url, imap_user, dovecot, capsys):
    cfg = make_config(database_url, imap_user)
    assert main(["--config", str(cfg.path), "init"]) == 0
    client = imap(dovecot, imap_user)
    for name in ("Ann Price", "Raj Patel"):
        client.append("INBOX", message(f"{name} <{name.split()[0].lower()}@example.net>",
                                       "Complaint about Daily Mail article", COMPLAINT.replace("Margaret Hollis", name)))
    client.logout()
    run(cfg, capsys, "poll", "--once")
    stats = json.loads(run(cfg, capsys, "stats", "--json"))
    assert {"messages", "by_category", "needs_review", "parse_failures", "cases", "drafts"} <= set(stats)
    assert stats["messages"] == 2 and stats["cases"] == 2 and stats["by_category"] == {"new_complaint": 2}
    cases = [json.loads(x) for x in run(cfg, capsys, "cases", "--json").splitlines()]
    a, b = (c["reference"] for c in cases)
    assert all(c["publication"] == "Daily Mail" for c in cases)

    out = run(cfg, capsys, "case", "merge", b, a, "--actor", "officer.khan")
    assert f"merged {b} into {a} (1 message(s) moved)" in out
    shown = json.loads(run(cfg, capsys, "show", a, "--json"))
    assert len(shown["messages"]) == 2
    moved = [e for e in shown["events"] if e["kind"] == "message_moved"]
    assert moved and moved[0]["actor"] == "officer.khan" and (moved[0]["old"], moved[0]["new"]) == (b, a)
    msg_id = shown["messages"][1]["id"]
    out = run(cfg, capsys, "case", "link", str(msg_id), b, "--actor", "officer.khan")
    assert f"now on case {b} (was {a})" in out
    out = run(cfg, capsys, "case", "category", str(msg_id), "complainant_followup", "--actor", "officer.khan")
    assert "new_complaint → complainant_followup" in out
    db = store.Store(cfg.database_url)
    with db.transaction() as s:
        kinds = [e.kind for e in s.scalars(store.select(store.Event).where(store.Event.actor == "officer.khan"))]
        assert {"merged", "message_moved", "linked", "corrected"} <= set(kinds)
        assert store.count(s, store.Correction) == 1
    db.dispose()
    assert main(["--config", str(cfg.path), "show", "99999-99"]) == 1
    assert "no case 99999-99" in capsys.readouterr().err
