"""Staff correct the service the way they already work: by moving a message between folders."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from sqlalchemy import select

from tests.conftest import folder_messages, imap, server_folder
from tests.mail import COMPLAINT, message
from triage import store
from triage.cli import main
from triage.config import CATEGORIES

ROOT = Path(__file__).resolve().parents[1]


def test_folder_move_is_a_correction_counted_once_and_used_by_training(
        make_config, database_url, imap_user, dovecot, capsys, tmp_path, workdir):
    cfg = make_config(database_url, imap_user, models=workdir)
    assert main(["--config", str(cfg.path), "init"]) == 0
    client = imap(dovecot, imap_user)
    client.append("INBOX", message("Margaret Hollis <mags.hollis@btinternet.com>",
                                   "Complaint about Daily Mail article", COMPLAINT))
    assert main(["--config", str(cfg.path), "poll", "--once"]) == 0
    assert len(folder_messages(client, "Triage/New complaint")) == 1
    assert len(folder_messages(client, "Drafts")) == 1

    # A complaints officer decides it is out of remit and drags it into that folder.
    client.select_folder(server_folder(client, "Triage/New complaint"))
    client.move(client.search(["ALL"]), server_folder(client, "Triage/Out of remit"))
    for _ in range(2):
        capsys.readouterr()
        assert main(["--config", str(cfg.path), "poll", "--once"]) == 0
    out = capsys.readouterr().out
    assert "0 correction(s)" in out  # the second cycle found nothing new

    db = store.Store(cfg.database_url)
    with db.transaction() as s:
        corrections = s.scalars(select(store.Correction)).all()
        assert [(c.old_category, c.new_category, c.source) for c in corrections] == [
            ("new_complaint", "out_of_remit", "folder")]
        msg = s.get(store.Message, corrections[0].message_pk)
        assert (msg.category, msg.needs_review, msg.filed_folder) == ("out_of_remit", False, "Triage/Out of remit")
        assert msg.case_id is None  # the case opened for it was a mistake
        case = s.scalars(select(store.Case)).one()
        assert case.stage == "closed"
        kinds = [e.kind for e in s.scalars(select(store.Event).where(store.Event.message_pk == msg.id))]
        assert "corrected" in kinds
        assert sorted(d.template for d in msg.drafts) == ["drafts/new_complaint.txt.j2",
                                                          "drafts/out_of_remit.txt.j2"]
    db.dispose()
    assert len(folder_messages(client, "Drafts")) == 2  # the out-of-remit reply is ready too
    assert len(folder_messages(client, "Triage/Out of remit")) == 1
    client.logout()

    data = tmp_path / "data"
    for cat in CATEGORIES:
        (data / cat).mkdir(parents=True)
        for path in sorted((ROOT / "training_data" / cat).glob("*.eml"))[:12]:
            shutil.copy(path, data / cat / path.name)
    assert main(["--config", str(cfg.path), "train", "--data", str(data), "--force"]) == 0
    registry = json.loads((workdir / "registry.json").read_text())
    card = json.loads((workdir / registry["active"] / "card.json").read_text())
    assert card["sources"] == {"training_data": 84, "corrections": 1}
    assert card["training_examples"]["out_of_remit"] == 13
