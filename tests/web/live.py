"""The app served by uvicorn in a thread on a free loopback port, with the options `mammokit serve` uses."""
from __future__ import annotations

import socket
import threading
import time

import uvicorn

from mammokit.cli._serve import uvicorn_options


class LiveServer:
    def __init__(self, app, forwarded_allow_ips: str | None = None, **config):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        options = {**uvicorn_options("127.0.0.1", port, forwarded_allow_ips), "log_level": "warning",
                   "lifespan": "off", **config}
        options.pop("host"), options.pop("port")
        self.server = uvicorn.Server(uvicorn.Config(app, **options))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=15)
        self.sock.close()
