"""Issue 14.2: authentication before any body byte is read, and a byte limit enforced while streaming.

The app is driven at the ASGI level, so the test counts exactly how many body bytes the server pulled."""
from __future__ import annotations

import asyncio
import gc
import os

import pytest

from mammokit.web._bodylimit import FORM_OVERHEAD

from .support import add_users, login, page_csrf

CHUNK = 64 * 1024
BOUNDARY = "mkboundary7MA4YWxkTrZu0gW"


def multipart(file_bytes: int, csrf: str = "") -> bytes:
    head = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{csrf}\r\n"
            f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.png\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode()
    return head + b"\0" * file_bytes + f"\r\n--{BOUNDARY}--\r\n".encode()


def multipart_of_size(total: int, csrf: str = "") -> bytes:
    overhead = len(multipart(0, csrf))
    body = multipart(total - overhead, csrf)
    assert len(body) == total
    return body


def drive(app, path: str, body: bytes, headers: dict[str, str], answer: list | None = None) -> tuple[int, int]:
    """POST `body` in 64 KiB chunks with no Content-Length (as chunked transfer arrives); returns
    (status, body bytes the app pulled); the response body is appended to `answer`."""
    pulled = 0
    chunks = [body[i:i + CHUNK] for i in range(0, len(body), CHUNK)] or [b""]
    status = []

    async def receive():
        nonlocal pulled
        if not chunks:
            await asyncio.sleep(3600)  # a client that sends nothing more
        chunk = chunks.pop(0)
        pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

    async def send(message):
        if message["type"] == "http.response.start":
            status.append(message["status"])
        elif answer is not None:
            answer.append(message.get("body", b""))

    all_headers = {"content-type": f"multipart/form-data; boundary={BOUNDARY}", "transfer-encoding": "chunked",
                   **headers}
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(k.lower().encode(), v.encode()) for k, v in all_headers.items()],
             "client": ("127.0.0.1", 50000), "server": ("testserver", 80)}
    asyncio.run(asyncio.wait_for(app(scope, receive, send), 120))
    return status[0], pulled


def deleted_open_files() -> int:
    """Open descriptors of this process on deleted files (where spooled uploads live)."""
    n = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            n += os.readlink(f"/proc/self/fd/{fd}").endswith("(deleted)")
        except OSError:
            pass
    return n


@pytest.mark.parametrize("path, status", [("/upload", 303), ("/api/predictions", 401), ("/exams", 303),
                                          ("/api/exams", 401), ("/logout", 303)])
def test_anonymous_body_is_never_read(make_client, path, status):
    client, _settings = make_client()
    got, pulled = drive(client.app, path, multipart(20 * 1024 * 1024), {})
    assert (got, pulled) == (status, 0)
    got, pulled = drive(client.app, path, multipart(1000), {"cookie": "mammokit_session=forged.value"})
    assert (got, pulled) == (status, 0)


def test_login_form_body_is_small(make_client):
    client, _settings = make_client()
    got, pulled = drive(client.app, "/login", multipart(5 * 1024 * 1024), {})
    assert got == 413 and pulled <= 64 * 1024 + CHUNK


@pytest.mark.parametrize("path", ["/upload", "/api/predictions"])
def test_limit_is_enforced_while_streaming(make_client, path):
    client, settings = make_client(max_upload_bytes=1_000_000)
    add_users(settings, ("alice", "clinician"))
    login(client, "alice")
    csrf = page_csrf(client)
    headers = {"cookie": f"mammokit_session={client.cookies['mammokit_session']}", "x-csrf-token": csrf}
    limit = settings.max_upload_bytes + FORM_OVERHEAD
    gc.collect()
    open_before = deleted_open_files()
    guard = b"request body is over the limit"
    answer: list[bytes] = []
    got, pulled = drive(client.app, path, multipart_of_size(limit + 1, csrf), headers, answer)
    assert got == 413 and pulled == limit + 1 and guard in b"".join(answer)
    answer.clear()
    got, pulled = drive(client.app, path, multipart_of_size(limit, csrf), headers, answer)
    # read in full and passed to the app, which refuses the file inside as over the upload limit
    assert pulled == limit and guard not in b"".join(answer) and b"over the upload limit" in b"".join(answer)
    got, pulled = drive(client.app, path, multipart(50 * 1024 * 1024, csrf), headers)
    assert got == 413 and pulled <= limit + CHUNK  # aborted early, not read to the end
    gc.collect()
    assert deleted_open_files() <= open_before  # spooled temporary files are closed
    assert not list((settings.data_dir).glob("uploads/*"))
