"""torch's CPU threads beside other work: OpenMP's wait policy, and the thread count that follows from it.

torch's CPU kernels run on OpenMP (libgomp). By default an idle OpenMP thread spins for a while before it sleeps;
on a machine whose cores are busy (MuJoCo's physics threads, another process) a parallel region then waits for a
thread the scheduler has parked, and two torch threads ran 2–7× slower than one (docs/training.md,
docs/recon_solver.md). With ``OMP_WAIT_POLICY=PASSIVE`` idle threads sleep, and more threads help on idle and busy
machines alike. libgomp reads the variable once, when torch is first imported.
"""

from __future__ import annotations

import os
import sys

WAIT_POLICY = "OMP_WAIT_POLICY"


def sleep_idle_openmp_threads() -> None:
    """Set ``OMP_WAIT_POLICY=PASSIVE`` unless the user set a policy. Call it before ``torch`` is first imported
    (``hoi-sim`` does, as its first statement); later it changes nothing in this process."""
    os.environ.setdefault(WAIT_POLICY, "PASSIVE")


def idle_threads_sleep() -> bool:
    """Whether the environment asks OpenMP's idle threads to sleep (``OMP_WAIT_POLICY=PASSIVE``)."""
    return os.environ.get(WAIT_POLICY, "").strip().lower() == "passive"


def usable_cores() -> int:
    """CPUs this process may run on (its affinity mask: a cluster job's allocation, not the whole node)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # no affinity API on this platform
        return max(1, os.cpu_count() or 1)


def auto_threads(requested: int) -> int:
    """torch threads for ``requested``: itself when ≥ 1; for 0 (auto), one per usable core when idle OpenMP threads
    sleep, else 1 (spinning threads on a busy core cost more than a second thread gains)."""
    if requested >= 1:
        return int(requested)
    return usable_cores() if idle_threads_sleep() else 1


def rerun_with_sleeping_threads() -> None:
    """For a script that imported torch already (``python script.py ARGS``): unless a wait policy is set, run the
    script again in this process with ``OMP_WAIT_POLICY=PASSIVE``, so it measures what ``hoi-sim`` does."""
    if WAIT_POLICY not in os.environ:
        os.environ[WAIT_POLICY] = "PASSIVE"
        os.execv(sys.executable, [sys.executable, *sys.argv])
