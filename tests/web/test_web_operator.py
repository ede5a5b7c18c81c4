"""Issue 14.9: operator mistakes stop `mammokit serve` (and the users commands) at start with one line."""
from __future__ import annotations

import json
import shutil

import pytest

from mammokit.errors import ConfigError
from mammokit.web import WebSettings

from .test_web_cli import run_cli


class Started(Exception):
    """uvicorn.run was reached: the server would have started listening."""


@pytest.fixture
def no_listen(monkeypatch):
    def _run(*_a, **_kw):
        raise Started()
    monkeypatch.setattr("uvicorn.run", _run)


def test_bundle_with_unknown_backbone_fails_at_start(tiny_bundle, tmp_path, capsys, monkeypatch, no_listen):
    bad = tmp_path / "bad-bundle"
    shutil.copytree(tiny_bundle, bad)
    manifest = json.loads((bad / "manifest.json").read_text())
    manifest["backbone"]["name"] = "no_such_net"
    (bad / "manifest.json").write_text(json.dumps(manifest))
    code, _out, err = run_cli(["serve", "--model", str(bad), "--data-dir", str(tmp_path / "data")],
                              capsys, monkeypatch)
    assert code == 2 and "the model does not run" in err and "unknown backbone 'no_such_net'" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_good_bundle_reaches_the_listener(tiny_bundle, tmp_path, capsys, monkeypatch, no_listen):
    with pytest.raises(Started):
        from mammokit.cli import main

        main(["serve", "--model", str(tiny_bundle), "--data-dir", str(tmp_path / "data")])


@pytest.mark.parametrize("key", ["x", "y" * 31, "é" * 15])
def test_short_secret_key_is_refused(tmp_path, monkeypatch, key):
    monkeypatch.setenv("MAMMOKIT_SECRET_KEY", key)
    with pytest.raises(ConfigError, match="at least 32 bytes"):
        WebSettings(data_dir=tmp_path).resolve_secret()
    with pytest.raises(ConfigError, match="at least 32 bytes"):
        WebSettings(data_dir=tmp_path, secret_key=key).resolve_secret()
    monkeypatch.setenv("MAMMOKIT_SECRET_KEY", "z" * 32)
    assert WebSettings(data_dir=tmp_path).resolve_secret() == "z" * 32


@pytest.mark.parametrize("command", [["serve", "--model", "."], ["users", "list"]])
@pytest.mark.parametrize("below", [False, True])
def test_data_dir_that_is_a_file_is_one_line(tmp_path, capsys, monkeypatch, no_listen, command, below):
    afile = tmp_path / "not-a-folder"
    afile.write_text("x")
    target = afile / "sub" if below else afile
    code, _out, err = run_cli([*command, "--data-dir", str(target)], capsys, monkeypatch)
    assert code == 2 and f"{afile} is a file, not a folder" in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
