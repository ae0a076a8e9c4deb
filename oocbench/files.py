"""Opening the files a user names (records, results, a ``--from-file`` table): regular files only, read with a
bound where one makes sense.

A FIFO blocks ``open`` until someone writes to it (``run`` and ``report`` hung without a word); ``/dev/zero``
and ``/dev/full`` never end (``report`` read 23.8 GB before the kernel killed it). Such a path is refused with
:class:`NotRegularFileError`, one line naming it and what it is. A symbolic link to a regular file is fine.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
from pathlib import Path

#: what a file type is called in an error (``stat.S_IFMT`` -> words)
_KINDS = {stat.S_IFIFO: "a FIFO (named pipe)", stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
          stat.S_IFSOCK: "a socket", stat.S_IFDIR: "a directory"}


class NotRegularFileError(OSError):
    """A path that must be a regular file is a FIFO, a device, a socket or a directory; the message says which,
    and what to give instead."""

    def __str__(self) -> str:
        return self.strerror or super().__str__()


def special_kind(path: str | os.PathLike) -> str | None:
    """What ``path`` is when it exists and is not a regular file (``"a FIFO (named pipe)"``...), else ``None``.

    >>> special_kind("/dev/null"), special_kind("/no/such/file")
    ('a character device', None)
    """
    try:
        mode = os.stat(path).st_mode  # follows links: a link to a regular file is a regular file
    except OSError:
        return None  # missing or unreadable: the caller's own open says so
    return None if stat.S_ISREG(mode) else _KINDS.get(stat.S_IFMT(mode), "not a regular file")


def refuse_special(path: str | os.PathLike, what: str, instead: str) -> None:
    """Raise :class:`NotRegularFileError` when ``path`` exists and is not a regular file.

    Parameters
    ----------
    path : path-like
        The path to check.
    what : str
        What it was given as (``"records file"``), for the message.
    instead : str
        What to do, for the message (``"give --results a directory or a records.jsonl"``).
    """
    if (kind := special_kind(path)) is not None:
        raise NotRegularFileError(errno.EINVAL, f"{path}: the {what} is {kind}, not a regular file; {instead}")


def open_regular(path: str | os.PathLike, flags: int, what: str, instead: str, mode: int = 0o644) -> int:
    """``os.open`` that never blocks on a FIFO and refuses anything but a regular file (checked on the open
    descriptor, so a path swapped after a check is caught too). Returns the descriptor, in blocking mode."""
    refuse_special(path, what, instead)
    try:
        fd = os.open(path, flags | os.O_NONBLOCK | os.O_CLOEXEC, mode)  # O_NONBLOCK: a FIFO opens at once
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # a FIFO opened for writing with no reader
            raise NotRegularFileError(errno.EINVAL, f"{path}: the {what} is a FIFO (named pipe), not a regular "
                                      f"file; {instead}") from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotRegularFileError(errno.EINVAL, f"{path}: the {what} is "
                                      f"{_KINDS.get(stat.S_IFMT(st.st_mode), 'not a regular file')}, not a regular "
                                      f"file; {instead}")
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_bounded(path: str | os.PathLike, limit: int, what: str, instead: str) -> bytes:
    """The bytes of the regular file ``path``, refused (:class:`NotRegularFileError`) when larger than ``limit``.

    >>> read_bounded("/dev/zero", 10, "records file", "give a file")
    Traceback (most recent call last):
    ...
    oocbench.files.NotRegularFileError: /dev/zero: the records file is a character device, not a regular file; give a file
    """
    fd = open_regular(path, os.O_RDONLY, what, instead)
    with os.fdopen(fd, "rb") as fh:
        data = fh.read(limit + 1)  # one byte past the limit: enough to know it is over
    if len(data) > limit:
        from oocbench.fmt import fmt_bytes

        raise NotRegularFileError(errno.EFBIG, f"{path}: the {what} is larger than {fmt_bytes(limit)}, more than "
                                  f"it can be; {instead}")
    return data


def is_inside(path: str | os.PathLike, folder: str | os.PathLike) -> bool:
    """Whether ``path`` is ``folder`` or below it, links resolved (``results/../results/x`` is inside).

    >>> is_inside("/tmp/a/b", "/tmp/a"), is_inside("/tmp/ab", "/tmp/a")
    (True, False)
    """
    p, f = Path(path).resolve(), Path(folder).resolve()
    return p == f or f in p.parents
