"""Login, logout, sessions, access control and the audit log, on real SQLite and PostgreSQL."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from mammokit.web import set_active
from mammokit.web._db import AuditEvent, User, init_db

from .support import PASSWORD, add_users, csrf_of, login, page_csrf

PROTECTED_PAGES = ["/", "/history", "/audit", "/results/abcdefgh12"]
PROTECTED_API = ["/api/me", "/api/predictions", "/api/predictions/abcdefgh12", "/api/openapi.json"]


def audit_events(settings) -> list[tuple[str, str]]:
    engine, factory = init_db(settings.database_url)
    with factory() as db:
        rows = [(e.event, e.username) for e in db.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    engine.dispose()
    return rows


def test_no_default_account_and_everything_needs_login(make_client):
    client, settings = make_client()
    engine, factory = init_db(settings.database_url)
    with factory() as db:
        assert db.scalars(select(User)).all() == []  # a fresh install has no account at all
    engine.dispose()
    for path in PROTECTED_PAGES:
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/login", path
    for path in PROTECTED_API:
        assert client.get(path).status_code == 401, path
    assert client.post("/api/predictions", files={"file": ("a.png", b"x")}).status_code == 401
    assert client.get("/media/abcdefgh12/view.png").status_code == 401
    assert client.get("/health").json()["status"] == "ok"
    r = client.get("/login")
    assert r.status_code == 200 and 'name="password"' in r.text
    for name, pw in [("admin", "admin"), ("admin", ""), ("root", "password")]:
        assert login(client, name, pw).status_code == 401


def test_login_logout_and_session_cookie(make_client):
    client, settings = make_client()
    add_users(settings, ("alice", "clinician"))
    r = login(client, "alice")
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = r.headers["set-cookie"]
    assert "mammokit_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain HTTP here; see the HTTPS test
    home = client.get("/")
    assert home.status_code == 200 and "alice (clinician)" in home.text
    assert "Research software, not a medical device" in home.text
    old_cookie = client.cookies.get("mammokit_session")
    r = client.post("/logout", data={"csrf_token": csrf_of(home.text)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    # logging out ends the session on the server: replaying the old cookie no longer works
    client.cookies.set("mammokit_session", old_cookie)
    assert client.get("/", follow_redirects=False).status_code == 303
    assert client.get("/api/me").status_code == 401
    events = [e for e, _ in audit_events(settings)]
    assert events == ["login", "logout"]


def test_secure_cookie_over_https(make_client):
    client, settings = make_client(base_url="https://testserver")
    add_users(settings, ("alice", "clinician"))
    r = login(client, "alice")
    assert r.status_code == 303
    assert "Secure" in r.headers["set-cookie"] and "HttpOnly" in r.headers["set-cookie"]
    assert r.headers["strict-transport-security"].startswith("max-age=")


TEST_CASES_BAD_COOKIE = ["", "garbage", "abc.def.ghi"]


@pytest.mark.parametrize("mutation", TEST_CASES_BAD_COOKIE)
def test_tampered_or_forged_cookie_is_refused(make_client, mutation):
    client, settings = make_client()
    add_users(settings, ("alice", "clinician"))
    login(client, "alice")
    good = client.get("/")
    assert good.status_code == 200
    signed = client.cookies.get("mammokit_session")
    forged = mutation or signed[:-3] + ("AAA" if not signed.endswith("AAA") else "BBB")  # "" -> bad signature
    client.cookies.set("mammokit_session", forged)
    assert client.get("/", follow_redirects=False).status_code == 303


def test_wrong_password_and_audit_log(make_client):
    client, settings = make_client()
    add_users(settings, ("alice", "clinician"))
    r = login(client, "alice", "wrong password!")
    assert r.status_code == 401 and "Wrong user name or password" in r.text
    assert login(client, "nobody", PASSWORD).status_code == 401
    assert login(client, "alice").status_code == 303
    assert audit_events(settings) == [("login_failed", "alice"), ("login_failed", "nobody"), ("login", "alice")]


def test_disabled_user_loses_session_and_cannot_log_in(make_client):
    client, settings = make_client()
    add_users(settings, ("alice", "clinician"))
    login(client, "alice")
    assert client.get("/").status_code == 200
    engine, factory = init_db(settings.database_url)
    set_active(factory, "alice", False)
    engine.dispose()
    assert client.get("/", follow_redirects=False).status_code == 303
    assert login(client, "alice").status_code == 401


def test_audit_page_admin_only(make_client):
    client, settings = make_client()
    add_users(settings, ("boss", "admin"), ("carol", "clinician"))
    login(client, "carol")
    assert client.get("/audit").status_code == 404
    client.post("/logout", data={"csrf_token": page_csrf(client)})
    login(client, "boss")
    r = client.get("/audit")
    assert r.status_code == 200 and "login" in r.text and "carol" in r.text


def test_security_headers(make_client):
    client, _ = make_client()
    r = client.get("/login")
    assert r.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"
