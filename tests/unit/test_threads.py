"""torch thread counts: OpenMP's wait policy (hoi_sim.threads) and where the package applies it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from hoi_sim import threads
from hoi_sim.threads import WAIT_POLICY, auto_threads, idle_threads_sleep, sleep_idle_openmp_threads
from hoi_sim.train.config import PPOConfig, rlgames_params


def test_explicit_counts_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(WAIT_POLICY, raising=False)
    assert auto_threads(3) == 3
    assert auto_threads(1) == 1


def test_auto_is_one_per_core_only_with_sleeping_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(threads, "usable_cores", lambda: 6)
    monkeypatch.setenv(WAIT_POLICY, "passive")
    assert idle_threads_sleep() and auto_threads(0) == 6
    monkeypatch.setenv(WAIT_POLICY, "ACTIVE")
    assert not idle_threads_sleep() and auto_threads(0) == 1
    monkeypatch.delenv(WAIT_POLICY)
    assert auto_threads(0) == 1


def test_usable_cores_follow_the_affinity_mask() -> None:
    if not hasattr(os, "sched_getaffinity"):
        pytest.skip("no affinity API on this platform")
    assert threads.usable_cores() == len(os.sched_getaffinity(0)) >= 1


def test_a_users_policy_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(WAIT_POLICY, "ACTIVE")
    sleep_idle_openmp_threads()
    assert os.environ[WAIT_POLICY] == "ACTIVE"
    monkeypatch.delenv(WAIT_POLICY)
    sleep_idle_openmp_threads()
    assert os.environ[WAIT_POLICY] == "PASSIVE"


@pytest.mark.parametrize("given, expected", [(None, "PASSIVE"), ("ACTIVE", "ACTIVE")])
def test_the_cli_sets_the_policy_before_torch_loads(given: str | None, expected: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != WAIT_POLICY}
    if given is not None:
        env[WAIT_POLICY] = given
    code = ("import sys, os; import hoi_sim.cli; "
            "print(os.environ.get('OMP_WAIT_POLICY'), 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == [expected, "False"]


def test_ppo_threads_resolve_through_auto(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(threads, "usable_cores", lambda: 4)
    monkeypatch.setenv(WAIT_POLICY, "PASSIVE")
    params = lambda n: rlgames_params(PPOConfig(torch_threads=n), env_name="x", num_envs=4, seed=0,  # noqa: E731
                                      run_dir="unused", device="cpu")
    assert params(0)["torch_threads"] == 4
    assert params(2)["torch_threads"] == 2
    monkeypatch.delenv(WAIT_POLICY)
    assert params(0)["torch_threads"] == 1
