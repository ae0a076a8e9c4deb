"""Ctrl-C where it can do no harm: :func:`signals_held` holds SIGINT and SIGTERM back for a block of work that
must not stop half way (a rename and its cleanup, spawning worker processes) and delivers them at its end."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

HELD = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM noted inside the block and raised again at its end, to the handlers there were (an
    interrupt then lands after the block, never in the middle of it).

    Handlers, not ``pthread_sigmask``: a mask holds a signal back from one thread only, and a process-directed
    SIGINT went to one of Arrow's threads, whose C handler still raised KeyboardInterrupt in the main thread.
    Only the main thread may set handlers, so elsewhere this is a no-op.

    >>> import os
    >>> try:
    ...     with signals_held():
    ...         os.kill(os.getpid(), signal.SIGINT)
    ...         print("not interrupted here")
    ... except KeyboardInterrupt:
    ...     print("but here")
    not interrupted here
    but here
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    noted: list[int] = []
    old = {sig: signal.signal(sig, lambda sig, frame: noted.append(sig)) for sig in HELD}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        if noted:
            signal.raise_signal(noted[0])
