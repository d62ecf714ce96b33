"""Concurrency: calls run up to N at a time, their results handed back in the order they were asked for."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

LOOKAHEAD = 2  # calls started ahead of the one whose result is awaited, per worker


def in_order(call: Callable[[T], R], items: Iterable[T], workers: int) -> Iterator[R]:
    """call(item) for each item, up to workers at a time, the results yielded in the items' order.

    At most ``LOOKAHEAD * workers`` calls are started ahead of the result being yielded, so a
    consumer that stops early (an error, the budget spent) leaves few calls done for nothing;
    the calls not started by then are cancelled and those running are waited for. An exception
    raised by a call, or by the items' iterator, is raised when its turn comes. One worker: each
    call runs in the calling thread, when its result is asked for, as a plain loop would.
    """
    if workers <= 1:
        yield from map(call, items)
        return
    source = iter(items)
    pending: deque[Future[R]] = deque()
    broken: Exception | None = None  # what the items' iterator raised, after the items before it
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="conformance-send") as pool:
        try:
            while True:
                while broken is None and len(pending) < LOOKAHEAD * workers:
                    try:
                        item = next(source)
                    except StopIteration:
                        break
                    except Exception as exc:  # raised in its turn, below
                        broken = exc
                        break
                    pending.append(pool.submit(call, item))
                if not pending:
                    break
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()
    if broken is not None:
        raise broken
