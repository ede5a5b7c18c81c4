"""Decode and preprocess the next images on one helper thread while the engine runs the current batch.

Bounded: at most ``ahead`` results wait in memory (``Executor.map`` would queue every image of a 50k-image
run at once). The engine releases the GIL, so one thread is enough to overlap the Python-side work.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def prefetched(fn: Callable[[T], R], items: Iterable[T], *, ahead: int = 16, thread: bool = True) -> Iterator[R]:
    """``map(fn, items)``, in order, with up to ``ahead`` calls run in advance on a helper thread
    (``thread=False``: plain ``map``, nothing in advance). An exception is raised where its item is taken."""
    if not thread:
        yield from map(fn, items)
        return
    it = iter(items)
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = deque(pool.submit(fn, x) for _, x in zip(range(max(1, ahead)), it))
        try:
            while pending:
                result = pending.popleft().result()
                nxt = next(it, _END)
                if nxt is not _END:
                    pending.append(pool.submit(fn, nxt))
                yield result
        finally:  # the consumer stopped early: drop what was queued
            for fut in pending:
                fut.cancel()


_END = object()
