"""How many uploads are decoded and analysed at once, and how many one user may send.

- Analysis slots: a semaphore sized from memory. An upload takes a slot once its body has arrived (a slow
  client holds none) and keeps it until its answer is ready, so at most `slots` images are decoded and
  analysed at a time; one that cannot get a slot within `analysis_wait_s` gets 503 with Retry-After.
  Waiting uploads wait in the event loop, not in a worker thread, so logins and pages stay fast.
- Per user: at most `max_uploads_in_flight_per_user` uploads at once and `max_uploads_per_minute` a
  minute; more get 429 with Retry-After before their body is read.
Counts are in this process (one uvicorn worker, as `mammokit serve` runs).
"""
from __future__ import annotations

import collections
import math
import os
import threading
import time

import anyio
from starlette.exceptions import HTTPException

from ._decode import DECODE_SIDE
from ._settings import WebSettings

UPLOAD_PATHS = ("/upload", "/api/predictions", "/exams", "/api/exams")
# Bytes one analysis holds at its peak besides the model: the upload decoded in its own 16-bit samples
# (at most DECODE_SIDE squared after early downsampling), float32 copies for intensity and crop, and the
# network's activations.
_FLOAT_COPIES = 3
_MODEL_WORK = 200 * 1024 * 1024


def analysis_bytes(settings: WebSettings) -> int:
    decoded = min(settings.max_pixels, DECODE_SIDE * DECODE_SIDE)
    return decoded * 2 + decoded * 4 * _FLOAT_COPIES + _MODEL_WORK


def slot_count(settings: WebSettings) -> int:
    """Analyses at once: what `analysis_memory_mb` holds, at least 1 and at most the CPU count."""
    if settings.max_concurrent_analyses:
        return settings.max_concurrent_analyses
    fit = int(settings.analysis_memory_mb * 1024 * 1024 // analysis_bytes(settings))
    return max(1, min(fit, os.cpu_count() or 1))


class Busy(HTTPException):
    def __init__(self, status: int, message: str, retry_after_s: int):
        super().__init__(status, message, headers={"Retry-After": str(max(1, retry_after_s))})


class UploadLimits:
    def __init__(self, settings: WebSettings):
        self.settings = settings
        self.slots = slot_count(settings)
        self._semaphore: anyio.Semaphore | None = None  # made in the event loop on first use
        self._lock = threading.Lock()
        self._in_flight: collections.Counter = collections.Counter()
        self._recent: dict[int, collections.deque] = collections.defaultdict(collections.deque)

    def admit(self, user_id: int) -> None:
        """Count one upload of this user in, or raise 429 (call `release` when it is done)."""
        s = self.settings
        now = time.monotonic()
        with self._lock:
            recent = self._recent[user_id]
            while recent and now - recent[0] > 60:
                recent.popleft()
            if self._in_flight[user_id] >= s.max_uploads_in_flight_per_user:
                raise Busy(429, f"you already have {self._in_flight[user_id]} uploads in progress; "
                                "wait for them to finish", 5)
            if len(recent) >= s.max_uploads_per_minute:
                raise Busy(429, f"more than {s.max_uploads_per_minute} uploads in a minute; wait a moment",
                           math.ceil(60 - (now - recent[0])))
            recent.append(now)
            self._in_flight[user_id] += 1

    def release(self, user_id: int) -> None:
        with self._lock:
            self._in_flight[user_id] -= 1
            if self._in_flight[user_id] <= 0:
                del self._in_flight[user_id]

    async def acquire_slot(self) -> None:
        if self._semaphore is None:
            self._semaphore = anyio.Semaphore(self.slots)
        with anyio.move_on_after(self.settings.analysis_wait_s):
            await self._semaphore.acquire()
            return
        raise Busy(503, "the server is busy analysing other images; try again in a minute", 30)

    def release_slot(self) -> None:
        assert self._semaphore is not None
        self._semaphore.release()
