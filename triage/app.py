"""Wiring: builds the service's parts from a Config.

Kept apart from the CLI so that tests, the demo and the benchmark assemble the
service exactly as ``triage`` does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from triage import drafts, store
from triage.classifier import Classifier
from triage.config import Config, read_secret
from triage.errors import ConfigError
from triage.mailbox import Mailbox
from triage.pipeline import Context
from triage.publications import PublicationIndex, PublicationInfo, read_csv
from triage.store import Store

log = logging.getLogger(__name__)


def open_store(config: Config) -> Store:
    return Store(config.database_url)


def publication_index(config: Config, db: Store | None = None) -> PublicationIndex:
    """The members' list from the database, or from the configured CSV when the
    database has none (e.g. for offline classification)."""
    if db is not None:
        items = stored_publications(db)
        if items:
            return PublicationIndex(items)
    if config.publications_file and config.publications_file.exists():
        return PublicationIndex(read_csv(config.publications_file))
    return PublicationIndex([])


def stored_publications(db: Store) -> list[PublicationInfo]:
    """The members' list as kept in the database."""
    with db.transaction() as s:
        return [PublicationInfo(p.name, tuple(p.aliases), tuple(p.domains), p.contact, p.group_name)
                for p in store.publications(s)]


def load_classifier(config: Config, pubs: PublicationIndex) -> Classifier:
    c = config.classifier
    return Classifier.load(c.model_dir, pubs, threshold=c.threshold, thresholds=c.thresholds)


def credentials(config: Config) -> Callable[[], tuple[str, str]]:
    """A callable giving (mechanism, secret) at each login, so renewed tokens are used."""
    imap = config.imap
    if imap.auth == "xoauth2":
        from triage.oauth import TokenSource

        assert imap.oauth2 is not None
        source = TokenSource(imap.oauth2)
        return lambda: ("xoauth2", source.access_token())
    return lambda: ("password", read_secret(imap.password))


def check_templates(config: Config) -> None:
    folder = config.templates_dir / "drafts"
    if not folder.is_dir():
        raise ConfigError(f"templates.dir: {config.templates_dir} has no drafts/ folder")


def build_context(config: Config, db: Store | None = None) -> Context:
    db = db or open_store(config)
    db.check_schema()
    check_templates(config)
    pubs = publication_index(config, db)
    return Context(config=config, store=db, classifier=load_classifier(config, pubs), pubs=pubs,
                   templates=drafts.environment(config.templates_dir))


def connect(config: Config) -> Callable[[], Mailbox]:
    creds = credentials(config)
    return lambda: Mailbox.connect(config.imap, creds)


def service_folders(config: Config) -> list[str]:
    f = config.folders
    names = [config.imap.drafts]
    if f.mode != "keywords":
        names += [*f.categories.values(), f.needs_review]
    names.append(f.quarantine)
    return names


def import_publications(db: Store, path: Path) -> dict[str, list[str]]:
    """Bring the database's members list in line with a CSV; returns what changed."""
    items = read_csv(path)
    changes: dict[str, list[str]] = {"added": [], "updated": [], "unchanged": []}
    with db.transaction() as s:
        existing = {p.name: p for p in store.publications(s)}
        for item in items:
            row = existing.get(item.name)
            values = {"aliases": list(item.aliases), "domains": list(item.domains),
                      "contact": item.contact, "group_name": item.group}
            if row is None:
                s.add(store.Publication(name=item.name, **values))
                changes["added"].append(item.name)
            elif any(getattr(row, k) != v for k, v in values.items()):
                for k, v in values.items():
                    setattr(row, k, v)
                changes["updated"].append(item.name)
            else:
                changes["unchanged"].append(item.name)
        if changes["added"] or changes["updated"]:
            store.add_event(s, "publications_imported", str(path),
                            new=f"{len(changes['added'])} added, {len(changes['updated'])} updated")
    return changes
