"""Security checks that could fail: CSRF, rate limiting, API tokens, upload limits before any model runs."""
from __future__ import annotations

import struct
import zlib

import pytest

from mammokit.web import create_api_token, init_db

from .support import PASSWORD, add_users, csrf_of, login, page_csrf

TEST_CASES_CSRF = [None, "", "forged-token-value"]


@pytest.mark.parametrize("token", TEST_CASES_CSRF)
def test_login_without_valid_csrf_is_rejected(make_client, token):
    client, settings = make_client()
    add_users(settings, ("alice", "clinician"))
    client.get("/login")  # gets the login CSRF cookie, but the form token is missing or wrong
    data = {"username": "alice", "password": PASSWORD}
    if token is not None:
        data["csrf_token"] = token
    r = client.post("/login", data=data, follow_redirects=False)
    assert r.status_code == 403 and "mammokit_session" not in r.headers.get("set-cookie", "")
    # a correct token from another browser (no matching cookie) is refused too
    other = csrf_of(client.get("/login").text)
    client.cookies.clear()
    r = client.post("/login", data={**data, "csrf_token": other}, follow_redirects=False)
    assert r.status_code == 403


@pytest.mark.parametrize("token", TEST_CASES_CSRF)
def test_forms_without_valid_csrf_are_rejected(make_client, token, mias_png):
    client, settings = make_client()
    add_users(settings, ("alice", "clinician"))
    login(client, "alice")
    data = {} if token is None else {"csrf_token": token}
    r = client.post("/logout", data=data, follow_redirects=False)
    assert r.status_code == 403 and "CSRF" in r.text
    assert client.get("/", follow_redirects=False).status_code == 200  # still logged in
    files = {"file": ("mdb001.png", mias_png(1).read_bytes(), "image/png")}
    r = client.post("/upload", data=data, files=files, follow_redirects=False)
    assert r.status_code == 403
    assert not (settings.data_dir / "uploads").exists()  # nothing was stored
    # the JSON API with a session cookie needs the X-CSRF-Token header for POST
    headers = {} if token is None else {"X-CSRF-Token": token}
    r = client.post("/api/predictions", files=files, headers=headers)
    assert r.status_code == 403 and "CSRF" in r.json()["detail"]


def test_failed_logins_rate_limited_per_account(make_client):
    client, settings = make_client(max_failures_per_account=3)
    add_users(settings, ("alice", "clinician"), ("bob", "clinician"))
    for _ in range(3):
        assert login(client, "alice", "wrong password!").status_code == 401
    r = login(client, "alice")  # even the right password is refused now
    assert r.status_code == 429 and "Too many failed logins" in r.text
    assert "mammokit_session" not in r.headers.get("set-cookie", "")
    assert login(client, "bob").status_code == 303  # another account from the same address is fine


def test_failed_logins_rate_limited_per_address(make_client):
    client, settings = make_client(max_failures_per_address=4)
    add_users(settings, ("zoe", "clinician"))
    for name in ["u1", "u2", "u3", "u4"]:  # different (unknown) accounts, same address
        assert login(client, name, "whatever-password").status_code == 401
    assert login(client, "zoe").status_code == 429


def test_api_token_auth(make_client):
    client, settings = make_client()
    add_users(settings, ("alice", "clinician"))
    engine, factory = init_db(settings.database_url)
    token = create_api_token(factory, "alice")
    engine.dispose()
    auth = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/me", headers=auth).json() == {"name": "alice", "role": "clinician"}
    assert client.get("/api/me", headers={"Authorization": f"Bearer {token}x"}).status_code == 401
    assert client.get("/api/me", headers={"Authorization": token}).status_code == 401
    assert client.get("/api/predictions", headers=auth).json() == []
    schema = client.get("/api/openapi.json", headers=auth).json()
    assert "/api/predictions" in schema["paths"] and "post" in schema["paths"]["/api/predictions"]
    # a bearer token gives no access to the HTML pages
    assert client.get("/", headers=auth, follow_redirects=False).status_code == 303


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header promises width x height pixels (a decompression bomb's first bytes)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


TEST_CASES_UPLOAD_REJECTED = [
    ({}, "bomb.png", png_header_only(40000, 40000), 413, "bomb.png: 40000 rows x 40000 columns"),
    ({}, "anim.gif", b"GIF89a" + b"\0" * 200, 415, "anim.gif: not a supported image"),
    # (settings, file name, content, status, message)
    ({}, "notes.png", b"this is a text file, not a PNG\n" * 10, 415, "not a supported image"),
    ({}, "empty.dcm", b"", 422, "empty.dcm: empty file (0 bytes)"),
    ({}, "", b"", 400, "Choose an image file"),  # the form sent without choosing a file
    ({"max_upload_bytes": 1000}, "big.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 5000, 413, "over the upload limit"),
    ({"max_upload_bytes": 1000}, "huge.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 200_000, 413, "over the limit"),
]


@pytest.mark.parametrize("kw, name, content, status, message", TEST_CASES_UPLOAD_REJECTED)
def test_rejected_uploads_store_nothing(make_client, kw, name, content, status, message):
    """Rejected before the model is needed: no model is loaded in these apps."""
    client, settings = make_client(**kw)
    add_users(settings, ("alice", "clinician"))
    login(client, "alice")
    r = client.post("/upload", data={"csrf_token": page_csrf(client)},
                    files={"file": (name, content, "image/png")}, follow_redirects=False)
    assert r.status_code == status and message in r.text, r.text[:500]
    assert not (settings.data_dir / "uploads").exists()
    assert not (settings.data_dir / "derived").exists()
