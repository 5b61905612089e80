"""config.toml validation: every problem names the key; secrets never in the file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from triage.cli import main
from triage.config import build_config, load_config, read_secret
from triage.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def minimal(**imap: object) -> dict:
    base = {"host": "imap.example.org", "username": "complaints@example.org",
            "password_env": "X_PASSWORD"}
    base.update(imap)
    return {"team": {"address": "complaints@example.org"}, "imap": base}


def test_shipped_config_is_valid_and_documented():
    cfg = load_config(ROOT / "config.toml")
    assert cfg.imap.security == "none" and cfg.imap.host == "127.0.0.1"
    assert cfg.database_url.startswith("sqlite:///") and cfg.database_url.endswith("var/triage.db")
    assert cfg.deadlines.publication_resolution_days == 28
    text = (ROOT / "config.toml").read_text()
    for line in text.splitlines():
        if "=" in line and not line.lstrip().startswith(("#", "[")):
            assert "#" in line, f"undocumented setting: {line}"


def test_defaults_fill_everything_else():
    cfg = build_config(minimal(), Path("/etc/triage/config.toml"))
    assert cfg.imap.port == 993 and cfg.imap.security == "tls"
    assert cfg.folders.categories["new_complaint"] == "Triage/New complaint"
    assert cfg.classifier.model_dir == Path("/etc/triage/models")
    assert cfg.classifier.threshold is None


@pytest.mark.parametrize(("data", "message"), [
    ({"team": {"address": "a@b.org"}}, "imap.host: missing"),
    (minimal(port="993"), "imap.port: expected an integer"),
    (minimal(port=70000), "imap.port: must be between 1 and 65535"),
    (minimal(security="ssl"), "imap.security: must be one of tls, starttls, none"),
    (minimal(security="none"), "imap.security: 'none' sends passwords"),
    (minimal(password="hunter2"), "imap.password: secrets are not allowed in the config file"),
    (minimal(colour="blue"), "imap.colour: unknown setting"),
    ({**minimal(), "poll": {"interval_seconds": 0}}, "poll.interval_seconds: must be between 1"),
    ({**minimal(), "classifier": {"thresholds": {"spam": 0.5}}}, "classifier.thresholds.spam"),
    ({**minimal(), "digest": {"send_at": "half past seven"}}, "digest.send_at: expected HH:MM"),
    ({**minimal(), "digest": {"enabled": True, "recipients": []}}, "digest.recipients"),
    ({"team": {"address": "not an address"}, "imap": minimal()["imap"]}, "team.address"),
])
def test_invalid_settings_name_the_key(data, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("(", r"\(")):
        build_config(data, Path("config.toml"))


def test_none_security_allowed_on_loopback():
    cfg = build_config(minimal(host="127.0.0.1", security="none"), Path("c.toml"))
    assert cfg.imap.port == 143


def test_cli_reports_config_errors_in_one_line(tmp_path, capsys):
    bad = tmp_path / "config.toml"
    bad.write_text('[team]\naddress = "a@b.org"\n[imap]\nhost = "x"\nusername = "u"\nport = "x"\n'
                   'password_env = "P"\n')
    assert main(["--config", str(bad), "stats"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "triage: error: imap.port: expected an integer, got 'x'"
    assert main(["--config", str(tmp_path / "missing.toml"), "stats"]) == 2
    assert "config file not found" in capsys.readouterr().err


def test_secret_from_environment_or_private_file(tmp_path, monkeypatch):
    from triage.config import SecretRef

    monkeypatch.setenv("T_SECRET", "from-env")
    assert read_secret(SecretRef("T_SECRET", None, "imap.password")) == "from-env"
    f = tmp_path / "secret"
    f.write_text("from-file\n")
    os.chmod(f, 0o644)
    with pytest.raises(ConfigError, match="readable by others; run chmod 600"):
        read_secret(SecretRef("T_MISSING", f, "imap.password"))
    os.chmod(f, 0o600)
    assert read_secret(SecretRef("T_MISSING", f, "imap.password")) == "from-file"
    with pytest.raises(ConfigError, match=r"imap\.password: no secret found in \$T_MISSING") as exc:
        read_secret(SecretRef("T_MISSING", None, "imap.password"))
    assert "from-file" not in str(exc.value)
