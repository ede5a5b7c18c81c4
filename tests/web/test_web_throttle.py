"""Issue 14.5 and 14.10: login throttling under parallel and rotating-header attacks, back-off instead of
lock-out, proxy headers off by default, Cache-Control, idle timeout, no Server header."""
from __future__ import annotations

import threading
import time

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from mammokit.web import WebSettings, init_db
from mammokit.web._db import AuditEvent

from .live import LiveServer
from .support import PASSWORD, add_users, csrf_of, login


def login_form(client) -> str:
    return csrf_of(client.get("/login").text)


def audit_rows(settings, event: str) -> list[AuditEvent]:
    engine, factory = init_db(settings.database_url)
    with factory() as db:
        rows = db.scalars(select(AuditEvent).where(AuditEvent.event == event)).all()
    engine.dispose()
    return rows


@pytest.mark.slow
def test_parallel_wrong_passwords_check_at_most_the_limit(make_client):
    client, settings = make_client()
    add_users(settings, ("alice", "clinician"))
    with LiveServer(client.app) as server:
        clients = [httpx.Client(base_url=server.url, timeout=60) for _ in range(30)]
        tokens = [login_form(c) for c in clients]
        barrier = threading.Barrier(len(clients))
        statuses = [None] * len(clients)

        def attack(i: int) -> None:
            barrier.wait()
            statuses[i] = clients[i].post("/login", data={"username": "alice", "password": "wrong password!",
                                                          "csrf_token": tokens[i]}).status_code

        threads = [threading.Thread(target=attack, args=(i,)) for i in range(len(clients))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        for c in clients:
            c.close()
    assert set(statuses) <= {401, 429}, statuses
    checked = statuses.count(401)
    assert 1 <= checked <= settings.max_failures_per_account, statuses
    assert len(audit_rows(settings, "login_failed")) == checked


@pytest.mark.slow
def test_rotating_forwarded_for_is_not_believed(make_client):
    client, settings = make_client()
    with LiveServer(client.app) as server, httpx.Client(base_url=server.url, timeout=60) as c:
        statuses = []
        for i in range(60):
            token = login_form(c)
            statuses.append(c.post("/login", data={"username": f"u{i}", "password": "wrong password!",
                                                   "csrf_token": token},
                                   headers={"X-Forwarded-For": f"10.{i}.{i}.{i}"}).status_code)
            if statuses[-1] == 429:
                assert c.post("/login").status_code in (403, 422)  # still no 5xx
    limit = settings.max_failures_per_address
    assert statuses[:limit] == [401] * limit and statuses[limit] == 429, statuses
    assert statuses.count(401) <= limit + 3, statuses  # back-off: one more try after 5 s, 10 s, ...
    assert {r.address for r in audit_rows(settings, "login_failed")} == {"127.0.0.1"}


def test_trusted_proxy_is_believed(make_client):
    client, settings = make_client()
    with LiveServer(client.app, forwarded_allow_ips="127.0.0.1") as server, \
            httpx.Client(base_url=server.url) as c:
        c.post("/login", data={"username": "x", "password": "y" * 12, "csrf_token": login_form(c)},
               headers={"X-Forwarded-For": "192.0.2.44"})
    assert [r.address for r in audit_rows(settings, "login_failed")] == ["192.0.2.44"]


def test_others_cannot_lock_the_owner_out(make_client):
    client, settings = make_client()
    add_users(settings, ("alice", "clinician"))
    attacker = TestClient(client.app, client=("198.51.100.7", 40000))
    for _ in range(settings.max_failures_per_account + 3):
        assert login(attacker, "alice", "wrong password!").status_code in (401, 429)
    assert login(attacker, "alice").status_code == 429  # the attacker's own place is slowed down
    owner = TestClient(client.app, client=("203.0.113.9", 40000))
    assert login(owner, "alice").status_code == 303  # the owner, elsewhere, is not locked out
    attacker.close()
    owner.close()


def test_address_limit_is_a_short_back_off(make_client):
    client, settings = make_client(max_failures_per_address=3)
    add_users(settings, ("zoe", "clinician"))
    for name in ("u1", "u2", "u3"):
        assert login(client, name, "whatever-password").status_code == 401
    r = login(client, "zoe")
    assert r.status_code == 429 and 1 <= int(r.headers["Retry-After"]) <= 5
    time.sleep(int(r.headers["Retry-After"]) + 0.2)
    assert login(client, "zoe").status_code == 303  # a clinic behind one NAT waits seconds, not 15 minutes


def test_no_store_on_pages_api_and_media(make_client, tiny_bundle, mias_png):
    from .support import page_csrf

    client, settings = make_client(model_path=tiny_bundle)
    add_users(settings, ("alice", "clinician"))
    login(client, "alice")
    r = client.post("/api/predictions", files={"file": ("a.png", mias_png(1).read_bytes())},
                    headers={"X-CSRF-Token": page_csrf(client)})
    assert r.status_code == 201 and r.headers["cache-control"] == "no-store"
    uid = r.json()["id"]
    for path in (f"/results/{uid}", "/history", "/api/me", f"/api/predictions/{uid}", f"/media/{uid}/view.png",
                 f"/media/{uid}/overlay.png", "/"):
        assert client.get(path).headers.get("cache-control") == "no-store", path


def test_no_server_header(make_client):
    client, _settings = make_client()
    with LiveServer(client.app) as server:
        r = httpx.get(server.url + "/login")
    assert r.status_code == 200 and "server" not in r.headers


def test_idle_session_ends(make_client):
    assert WebSettings().session_idle_minutes == 30
    client, settings = make_client(session_idle_minutes=2.0 / 60)  # 2 s
    add_users(settings, ("alice", "clinician"))
    assert login(client, "alice").status_code == 303
    for _ in range(4):  # in use: 4 x 0.8 s = 3.2 s, longer than the idle time
        time.sleep(0.8)
        assert client.get("/", follow_redirects=False).status_code == 200
    time.sleep(2.5)  # idle
    assert client.get("/", follow_redirects=False).headers.get("location") == "/login"
    assert client.get("/api/me").status_code == 401
    assert PASSWORD  # the same user can log in again
    assert login(client, "alice").status_code == 303
