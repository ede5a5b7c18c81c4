"""`mammokit users ...` and `mammokit serve` argument handling, through the real entry point."""
from __future__ import annotations

import io

import pytest

from mammokit.cli import main

from .support import PASSWORD, login


def run_cli(argv, capsys, monkeypatch, stdin: str = "") -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def test_users_add_list_disable_token(tmp_path, db_url, capsys, monkeypatch, make_client):
    where = ["--db", db_url, "--data-dir", str(tmp_path / "data")]
    code, out, _ = run_cli(["users", "list", *where], capsys, monkeypatch)
    assert code == 0 and "no users yet" in out
    code, out, _ = run_cli(["users", "add", "dr.ada", "--role", "admin", *where], capsys, monkeypatch,
                           stdin=PASSWORD + "\n")
    assert code == 0 and "added admin dr.ada" in out
    code, out, _ = run_cli(["users", "token", "dr.ada", *where], capsys, monkeypatch)
    token = out.strip()
    assert code == 0 and token.startswith("mk_")
    client, _ = make_client()  # the server on the same database sees the user and the token
    assert login(client, "dr.ada").status_code == 303
    assert client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).json()["role"] == "admin"
    code, out, _ = run_cli(["users", "disable", "dr.ada", *where], capsys, monkeypatch)
    assert code == 0
    code, out, _ = run_cli(["users", "list", *where], capsys, monkeypatch)
    assert out.split("\t")[:3] == ["dr.ada", "admin", "disabled"]
    assert client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert client.get("/", follow_redirects=False).status_code == 303


TEST_CASES_USERS_INVALID = [
    (["users", "add", "eve", "--role", "superuser"], PASSWORD, "role 'superuser' is not one of"),
    (["users", "add", "eve"], "short", "too short"),
    (["users", "add", "../eve"], PASSWORD, "user name '../eve' is invalid"),
    (["users", "disable", "ghost"], "", "no user named 'ghost'"),
    (["users", "token", "ghost"], "", "no user named 'ghost'"),
]


@pytest.mark.parametrize("argv, stdin, message", TEST_CASES_USERS_INVALID)
def test_users_invalid(tmp_path, argv, stdin, message, capsys, monkeypatch):
    where = ["--data-dir", str(tmp_path / "data")]
    code, _, err = run_cli(argv + where, capsys, monkeypatch, stdin=stdin + "\n")
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_users_add_duplicate(tmp_path, capsys, monkeypatch):
    where = ["--data-dir", str(tmp_path / "data")]
    assert run_cli(["users", "add", "ann", *where], capsys, monkeypatch, PASSWORD + "\n")[0] == 0
    code, _, err = run_cli(["users", "add", "ann", *where], capsys, monkeypatch, PASSWORD + "\n")
    assert code == 2 and "already exists" in err


TEST_CASES_SERVE_INVALID = [
    ([], "run `make demo` first"),
    (["--model", "no/such/bundle"], "no/such/bundle: model bundle not found"),
    (["--model", ".", "--db", "mysql://x@y/z"], "only sqlite and postgresql"),
    (["--model", ".", "--max-upload-mb", "0"], "max upload size must be positive"),
    (["--model", ".", "--birads-config", "{tmp}/unknown.yaml"], "unknown BI-RADS threshold(s) ['cat9']"),
    (["--model", ".", "--birads-config", "{tmp}/order.yaml"], "BI-RADS thresholds must increase"),
    (["--model", ".", "--birads-config", "{tmp}/list.yaml"], "expected a mapping of BI-RADS thresholds"),
    (["--model", ".", "--birads-config", "{tmp}/missing.yaml"], "cannot read BI-RADS thresholds"),
]


@pytest.mark.parametrize("args, message", TEST_CASES_SERVE_INVALID)
def test_serve_invalid(tmp_path, args, message, capsys, monkeypatch):
    (tmp_path / "unknown.yaml").write_text("birads:\n  cat9: 0.5\n")
    (tmp_path / "order.yaml").write_text("cat3_max: 0.2\ncat4a_max: 0.1\n")
    (tmp_path / "list.yaml").write_text("- 0.02\n- 0.1\n")
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    monkeypatch.chdir(tmp_path)  # no runs/mias-cv/bundle here
    monkeypatch.setattr("mammokit.cli._serve.DEFAULT_BUNDLE", tmp_path / "runs" / "mias-cv" / "bundle")
    code, _, err = run_cli(["serve", "--data-dir", str(tmp_path / "data"), *args], capsys, monkeypatch)
    assert code == 2 and message in err
