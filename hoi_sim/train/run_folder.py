"""The run folder of one training: an exclusive lock, and ``progress.csv`` rolled back to a restored epoch.

Lock: ``<run>/.lock`` holds ``<pid> <host>`` of the training that owns the folder and an exclusive ``flock`` on it
for as long as that process lives. A second training into the folder finds the flock taken and is refused with
one line naming the owner. The kernel drops the flock when its process dies (SIGKILL included), so the lock of a
dead run is stale and the next training takes it over.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import io
import os
import socket
from collections.abc import Iterator
from pathlib import Path

from hoi_sim.errors import InputError
from hoi_sim.io_utils import write_text_atomic

LOCK_NAME = ".lock"
PROGRESS = "progress.csv"


def check_out_dir(run: str | os.PathLike) -> Path:
    """``run`` resolved; ``InputError`` when it names an existing file (a run folder must be a folder)."""
    p = Path(run)
    if p.exists() and not p.is_dir():
        raise InputError(f"out={p}: is an existing file, not a folder; choose another out=DIR")
    return p.resolve()


def _owner(path: Path) -> str:
    try:
        text = path.read_text().split()
    except OSError:
        return "another process"
    return f"pid {text[0]} on {text[1]}" if len(text) >= 2 else "another process"


def _pid_alive(path: Path) -> bool:
    """Whether the pid written in lock file ``path`` may still run: same host and the process exists, or another
    host (which cannot be checked from here)."""
    try:
        pid, host = path.read_text().split()[:2]
        if host != socket.gethostname():
            return True
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except (OSError, ValueError):
        return False  # no readable "<pid> <host>": nobody finished taking it
    return True


def _try_lock(path: Path) -> int | None:
    """An open descriptor holding the flock of ``path`` (created when absent), or None when another holds it.
    On a file system without ``flock`` the pid written in the file decides (a dead pid's lock is taken over)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    except OSError:  # no flock here (some network mounts)
        if _pid_alive(path) and path.read_text().split()[:1] != [str(os.getpid())]:
            os.close(fd)
            return None
    except BaseException:
        os.close(fd)
        raise
    return fd


def ensure_unlocked(run: str | os.PathLike) -> None:
    """``InputError`` when a live training holds ``run``'s lock (checks only; takes nothing, creates nothing)."""
    path = Path(run) / LOCK_NAME
    if not path.is_file():
        return
    fd = _try_lock(path)
    if fd is None:
        raise InputError(f"{Path(run)}: locked by a running training ({_owner(path)}; {path}); wait for it to "
                         "finish or choose another out=DIR")
    os.close(fd)


@contextlib.contextmanager
def run_lock(run: str | os.PathLike) -> Iterator[Path]:
    """Hold ``run``'s lock for the ``with`` block (the folder is created); ``InputError`` when a live training
    holds it. A lock left by a dead process is taken over."""
    run = Path(run)
    run.mkdir(parents=True, exist_ok=True)
    path = run / LOCK_NAME
    fd = _try_lock(path)
    if fd is None:
        raise InputError(f"{run}: locked by a running training ({_owner(path)}; {path}); wait for it to finish "
                         "or choose another out=DIR")
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {socket.gethostname()}\n".encode())
        yield path
    finally:
        os.close(fd)  # releases the flock; the file stays (unlinking it could let two processes lock two inodes)


def truncate_progress(run: str | os.PathLike, epoch: int) -> int:
    """Drop the rows of ``run/progress.csv`` after ``epoch`` (a resumed run restores that epoch, so the dead run's
    later epochs would otherwise appear twice) and a torn last row; returns how many rows were dropped. Atomic
    rewrite."""
    path = Path(run) / PROGRESS
    if not path.is_file():
        return 0
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        return 0
    header, body = rows[0], rows[1:]
    col = header.index("epoch") if "epoch" in header else 0
    keep = []
    for r in body:
        if len(r) != len(header):
            continue  # a torn last line of a killed run
        try:
            if int(float(r[col])) <= epoch:
                keep.append(r)
        except ValueError:
            continue
    dropped = len(body) - len(keep)
    if dropped:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\r\n").writerows([header, *keep])
        write_text_atomic(path, buf.getvalue())
    return dropped
