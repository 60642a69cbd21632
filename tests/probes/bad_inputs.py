"""Hostile-input probe of the ``hoi-sim`` command line (issue 14 §6).

Feeds crafted bad inputs to validate, convert, train, replay, render, eval, solve and synth and checks that each one

* exits non-zero,
* says why on one error line that names the file or the field at fault (no traceback),
* leaves every file that existed before unchanged and writes nothing new.

    python tests/probes/bad_inputs.py [--fast] [--subprocess] [-k SUBSTRING[,SUBSTRING...]] [-v]

``--fast``: only the probes that need no synthetic session (what the test suite runs); ``--subprocess``: each
probe in a fresh ``python -m hoi_sim.cli`` (default: in this process, much faster). Prints one line per probe and
the count; exits 1 when a probe fails. Training probes fail at validation, before any physics is built.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # runnable from a checkout without installing
    sys.path.insert(0, str(ROOT))


# --- crafted inputs -------------------------------------------------------------------------------------------------
class _Payload:
    """Unpickling this runs code: what a crafted checkpoint does to ``torch.load(weights_only=False)``."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').close()",))


def toy(num_frames: int = 40):
    from hoi_sim.envs.toy import toy_motion

    return toy_motion(num_frames, seed=1)


def save(motion, path: Path) -> Path:
    from hoi_sim.motions import save_motion

    return save_motion(motion, path)


def _nan_root(m):
    m.root_pos[3, 2] = np.nan


def _huge_dof(m):
    m.dof_pos[5, 7] = 1e30


def _zero_quat(m):
    m.body_quat[2, 5] = 0.0


def _contact5(m):
    m.contact_label[4, 20] = 5


def _short_array(m):
    m.dof_pos = m.dof_pos[:-3]


def _fps0(m):
    m.meta["fps"] = 0


def _ig_body(m):
    m.ig_body = np.array([99], np.int64)


def _dof_width(m):
    m.dof_pos = m.dof_pos[:, :150]


def _one_frame(m):
    from hoi_sim.motions.schema import ARRAY_SPECS

    for name, (shape, _) in ARRAY_SPECS.items():
        if shape and shape[0] == "T":
            setattr(m, name, getattr(m, name)[:1])


BAD_CLIPS: dict[str, tuple[Callable, str]] = {
    "nan_root": (_nan_root, "root_pos"),
    "huge_dof_pos": (_huge_dof, "dof_pos"),
    "zero_quaternion": (_zero_quat, "body_quat"),
    "contact_label_5": (_contact5, "contact_label"),
    "too_short_array": (_short_array, "dof_pos"),
    "fps_0": (_fps0, "fps"),
    "ig_body_out_of_range": (_ig_body, "ig_body"),
    "wrong_dof_width": (_dof_width, "dof_pos"),
    "one_frame": (_one_frame, "frame"),
}
"""name → (mutation of a valid toy clip, the field the error must name)."""


def bad_clip(sb: Path, kind: str) -> Path:
    m = toy()
    BAD_CLIPS[kind][0](m)
    return save(m, sb / f"{kind}.npz")


def plant_checkpoint(path: Path, marker: Path) -> Path:
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": {}, "optimizer": {}, "epoch": 1, "frame": 1, "evil": _Payload(str(marker))}, path)
    return path


TRAIN_FAST = ["env=test", "train=cpu_small", "num_envs=2", "train.units=[8]", "train.horizon_length=4",
              "train.minibatch_size=8", "train.mini_epochs=1", "train.max_epochs=1", "train.progress_every=0"]


def run_config(clip: Path, out: Path) -> dict:
    from hoi_sim.commands.hydra_config import compose

    cfg = compose([f"motions={clip}", *TRAIN_FAST])
    cfg["out"] = str(out)
    return {k: v for k, v in cfg.items() if k not in ("eval", "checkpoint")}


def loadable_checkpoint(run: Path, clip: Path) -> Path:
    """A run folder whose nn/last.pth loads (an untrained network of its config.yaml): eval gets past the policy."""
    import torch
    import yaml

    from hoi_sim.eval.policy import build_model
    from hoi_sim.train.job import job_from_config

    cfg = run_config(clip, run)
    (run / "nn").mkdir(parents=True, exist_ok=True)
    (run / "nn" / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    model = build_model(job_from_config(cfg), 16, 153)
    torch.save({"model": model.state_dict(), "epoch": 1, "frame": 8}, run / "nn" / "last.pth")
    return run / "nn" / "last.pth"


class Session:
    """One valid synthetic session (``hoi-sim synth toy``), made once and copied into each solve probe."""

    path: Path | None = None

    @classmethod
    def copy(cls, base: Path, dst: Path) -> Path:
        if cls.path is None:
            from hoi_sim.cli import main

            cls.path = base / "session"
            with contextlib.redirect_stdout(io.StringIO()):
                assert main(["synth", "toy", "-o", str(cls.path), "--size", "64x64"]) == 0
        shutil.copytree(cls.path, dst)
        return dst


def tamper_json(path: Path, **fields) -> None:
    import json

    data = json.loads(path.read_text())
    data.update(fields)
    path.write_text(json.dumps(data))


# --- probes ---------------------------------------------------------------------------------------------------------
@dataclass
class Probe:
    """``setup(sandbox, stack)`` writes the inputs and returns the argv after ``hoi-sim``; the error line must hold
    every string of ``expect``. ``fast``: part of the test-suite subset."""

    name: str
    setup: Callable[[Path, contextlib.ExitStack], list[str]]
    expect: tuple[str, ...]
    fast: bool = True
    prefix: str = "hoi-sim"


PROBES: list[Probe] = []


def probe(name: str, *expect: str, fast: bool = True, prefix: str = "hoi-sim"):
    def deco(fn):
        PROBES.append(Probe(name, fn, expect, fast, prefix))
        return fn
    return deco


# validate ------------------------------------------------------------------
@probe("validate: empty schema_version does not stop the files after it", "schema_version", prefix="FAIL")
def _(sb, _stack):
    bad = sb / "a_empty_version.npz"
    good = save(toy(), sb / "b_good.npz")
    with np.load(good) as z:
        data = {k: z[k] for k in z.files}
    data["schema_version"] = np.zeros(0, np.int64)
    np.savez(bad, **data)
    return ["validate", str(bad), str(good)]


@probe("validate: truncated .npz", "truncated.npz", prefix="FAIL")
def _(sb, _stack):
    good = save(toy(), sb / "x.npz")
    (sb / "truncated.npz").write_bytes(good.read_bytes()[:200])
    good.unlink()
    return ["validate", str(sb / "truncated.npz")]


@probe("validate: NaN root position", "root_pos", prefix="FAIL")
def _(sb, _stack):
    return ["validate", str(bad_clip(sb, "nan_root"))]


@probe("validate: .pt holding a pickled object", "pickled", prefix="FAIL")
def _(sb, _stack):
    plant_checkpoint(sb / "clip.pt", sb / "pwned")
    return ["validate", str(sb / "clip.pt")]


@probe("validate: .pt of the wrong width", "shape", prefix="FAIL")
def _(sb, _stack):
    import torch

    torch.save(torch.zeros(5, 7), sb / "narrow.pt")
    return ["validate", str(sb / "narrow.pt")]


@probe("validate: missing file next to a good one", "missing.npz", prefix="FAIL")
def _(sb, _stack):
    return ["validate", str(sb / "missing.npz"), str(save(toy(), sb / "good.npz"))]


# convert -------------------------------------------------------------------
@probe("convert: -o an existing file without --force", "exists", "--force")
def _(sb, _stack):
    src = save(toy(), sb / "src.npz")
    (sb / "out.pt").write_text("precious")
    return ["convert", str(src), "-o", str(sb / "out.pt")]


@probe("convert: .npz with a zero quaternion", "body_quat")
def _(sb, _stack):
    return ["convert", str(bad_clip(sb, "zero_quaternion")), "-o", str(sb / "out.pt")]


@probe("convert: .pt with a NaN", "nan.pt", "non-finite")
def _(sb, _stack):
    import torch

    from hoi_sim.motions import to_intermimic

    to_intermimic(toy(), sb / "nan.pt")
    t = torch.load(sb / "nan.pt", weights_only=True)
    t[2, 0] = float("nan")
    torch.save(t, sb / "nan.pt")
    return ["convert", str(sb / "nan.pt"), "-o", str(sb / "out.npz")]


@probe("convert: wrong output suffix", "out.npz2")
def _(sb, _stack):
    return ["convert", str(save(toy(), sb / "src.npz")), "-o", str(sb / "out.npz2")]


@probe("convert: missing source", "nope.pt")
def _(sb, _stack):
    return ["convert", str(sb / "nope.pt"), "-o", str(sb / "out.npz")]


# train ---------------------------------------------------------------------
def _train_on(kind: str):
    def setup(sb, _stack):
        return ["train", f"motions={bad_clip(sb, kind)}", f"out={sb / 'run'}", *TRAIN_FAST]
    return setup


for _kind, (_, _field) in BAD_CLIPS.items():
    PROBES.append(Probe(f"train: clip with {_kind.replace('_', ' ')}", _train_on(_kind), (f"{_kind}.npz", _field)))


def _train_with(*overrides: str):
    def setup(sb, _stack):
        return ["train", f"motions={save(toy(), sb / 'clip.npz')}", f"out={sb / 'run'}", *TRAIN_FAST, *overrides]
    return setup


for _ov, _field in (("train.max_epochs=-1", "train.max_epochs"), ("train.max_epochs=0", "train.max_epochs"),
                    ("num_envs=abc", "num_envs"), ("num_envs=0", "num_envs"), ("train.gamma=2", "train.gamma"),
                    ("train.save_every=0", "train.save_every"), ("train.nonsense=1", "train.nonsense")):
    PROBES.append(Probe(f"train: {_ov}", _train_with(_ov), (_field,)))


@probe("train: out= an existing file", "out=", "taken.txt")
def _(sb, _stack):
    (sb / "taken.txt").write_text("not a run folder")
    return ["train", f"motions={save(toy(), sb / 'clip.npz')}", f"out={sb / 'taken.txt'}", *TRAIN_FAST]


@probe("train: train.resume=auto with a planted nn/last.pth", "last.pth", "refused")
def _(sb, _stack):
    plant_checkpoint(sb / "run" / "nn" / "last.pth", sb / "pwned")
    return ["train", f"motions={save(toy(), sb / 'clip.npz')}", f"out={sb / 'run'}", "train.resume=auto",
            *TRAIN_FAST]


@probe("train: train.resume=FILE crafted", "evil.pth", "refused")
def _(sb, _stack):
    plant_checkpoint(sb / "evil.pth", sb / "pwned")
    return ["train", f"motions={save(toy(), sb / 'clip.npz')}", f"out={sb / 'run'}", f"train.resume={sb / 'evil.pth'}",
            *TRAIN_FAST]


@probe("train: a second training into a locked folder", "locked", "run")
def _(sb, stack):
    from hoi_sim.train.run_folder import run_lock

    stack.enter_context(run_lock(sb / "run"))  # a live training holds it
    return ["train", f"motions={save(toy(), sb / 'clip.npz')}", f"out={sb / 'run'}", *TRAIN_FAST]


@probe("train: fresh start into a finished run", "already holds", "train.resume")
def _(sb, _stack):
    plant_checkpoint(sb / "run" / "nn" / "last.pth", sb / "pwned")
    return ["train", f"motions={save(toy(), sb / 'clip.npz')}", f"out={sb / 'run'}", *TRAIN_FAST]


# replay --------------------------------------------------------------------
for _kind in ("nan_root", "contact_label_5", "zero_quaternion"):
    def _replay(sb, _stack, kind=_kind):
        return ["replay", str(save(toy(), sb / "good.npz")), str(bad_clip(sb, kind)), "--collision", "convex_hull",
                "--json", str(sb / "rows.json")]
    PROBES.append(Probe(f"replay: clip with {_kind.replace('_', ' ')}", _replay,
                        (f"{_kind}.npz", BAD_CLIPS[_kind][1])))


@probe("replay: missing file", "ghost.npz")
def _(sb, _stack):
    return ["replay", str(sb / "ghost.npz")]


@probe("replay: --json an existing file without --force", "rows.json", "--force")
def _(sb, _stack):
    (sb / "rows.json").write_text("{}")
    return ["replay", str(save(toy(), sb / "good.npz")), "--json", str(sb / "rows.json")]


# render --------------------------------------------------------------------
@probe("render: clip with a NaN root", "nan_root.npz", "root_pos")
def _(sb, _stack):
    return ["render", str(bad_clip(sb, "nan_root")), "-o", str(sb / "video.mp4")]


@probe("render: -o an existing file without --force", "video.mp4", "--force")
def _(sb, _stack):
    (sb / "video.mp4").write_text("keep")
    return ["render", str(save(toy(), sb / "clip.npz")), "-o", str(sb / "video.mp4")]


# eval ----------------------------------------------------------------------
@probe("eval: crafted checkpoint", "last.pth", "refused")
def _(sb, _stack):
    clip = save(toy(), sb / "clip.npz")
    import yaml

    plant_checkpoint(sb / "run" / "nn" / "last.pth", sb / "pwned")
    (sb / "run" / "nn" / "config.yaml").write_text(yaml.safe_dump(run_config(clip, sb / "run")))
    return ["eval", f"checkpoint={sb / 'run'}", f"motions={clip}", f"out={sb / 'report'}"]


@probe("eval: clip with dof_pos 1e30", "huge_dof_pos.npz", "dof_pos")
def _(sb, _stack):
    loadable_checkpoint(sb / "run", save(toy(), sb / "clip.npz"))
    return ["eval", f"checkpoint={sb / 'run'}", f"motions={bad_clip(sb, 'huge_dof_pos')}", f"out={sb / 'report'}"]


@probe("eval: out= an existing file", "out=", "report.md")
def _(sb, _stack):
    clip = save(toy(), sb / "clip.npz")
    loadable_checkpoint(sb / "run", clip)
    (sb / "report.md").write_text("keep me")
    return ["eval", f"checkpoint={sb / 'run'}", f"motions={clip}", f"out={sb / 'report.md'}"]


@probe("eval: eval.max_envs=0", "eval.max_envs")
def _(sb, _stack):
    clip = save(toy(), sb / "clip.npz")
    loadable_checkpoint(sb / "run", clip)
    return ["eval", f"checkpoint={sb / 'run'}", f"motions={clip}", f"out={sb / 'report'}", "eval.max_envs=0"]


# synth ---------------------------------------------------------------------
for _kind in ("nan_root", "contact_label_5", "too_short_array"):
    def _synth(sb, _stack, kind=_kind):
        return ["synth", str(bad_clip(sb, kind)), "-o", str(sb / "session")]
    PROBES.append(Probe(f"synth: clip with {_kind.replace('_', ' ')}", _synth, (f"{_kind}.npz", BAD_CLIPS[_kind][1])))


@probe("synth: -o an existing file", "-o", "notes.txt")
def _(sb, _stack):
    (sb / "notes.txt").write_text("keep")
    return ["synth", str(save(toy(), sb / "clip.npz")), "-o", str(sb / "notes.txt"), "--force"]


@probe("synth: missing motion file", "nowhere.npz")
def _(sb, _stack):
    return ["synth", str(sb / "nowhere.npz"), "-o", str(sb / "session")]


# solve ---------------------------------------------------------------------
def _solve_tampered(**fields):
    def setup(sb, _stack):
        sess = Session.copy(sb.parent, sb / "session")
        tamper_json(sess / "output" / "obj_poses.json", **fields)
        return ["solve", str(sess), "--ingest-only"]
    return setup


PROBES += [
    Probe("solve: object translation 1e300", _solve_tampered(t=[1e300, 0.0, 0.0]), ("obj_poses.json", "'t'"), False),
    Probe("solve: object scale 1e300", _solve_tampered(scale=1e300), ("obj_poses.json", "'scale'"), False),
    Probe("solve: object translation NaN-like string", _solve_tampered(t=["nan", 0, 0]), ("obj_poses.json", "'t'"),
          False),
]


@probe("solve: -o an existing file", "-o", "result.txt", fast=False)
def _(sb, _stack):
    sess = Session.copy(sb.parent, sb / "session")
    (sb / "result.txt").write_text("keep")
    return ["solve", str(sess), "--ingest-only", "-o", str(sb / "result.txt")]


@probe("solve: session without its mesh", "obj_org.obj", fast=False)
def _(sb, _stack):
    sess = Session.copy(sb.parent, sb / "session")
    (sess / "obj_org.obj").unlink()
    return ["solve", str(sess)]


# --- running --------------------------------------------------------------------------------------------------------
def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() or p.is_symlink()}


SUBPROCESS_TIMEOUT_S = 120
"""A probe run as a subprocess that takes longer than this counts as failed (e.g. a training that never stops)."""


def run_cli(argv: list[str], in_process: bool) -> tuple[int, str, str]:
    if not in_process:
        try:
            proc = subprocess.run([sys.executable, "-m", "hoi_sim.cli", *argv], capture_output=True, text=True,
                                  cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=SUBPROCESS_TIMEOUT_S)
        except subprocess.TimeoutExpired as exc:
            return 0, str(exc.stdout or ""), f"(killed: still running after {SUBPROCESS_TIMEOUT_S} s)"
        return proc.returncode, proc.stdout, proc.stderr
    from hoi_sim.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(argv)
        except SystemExit as exc:
            rc = exc.code if isinstance(exc.code, int) else 1
    return rc, out.getvalue(), err.getvalue()


@dataclass
class Outcome:
    probe: Probe
    ok: bool
    detail: str
    seconds: float


def check(p: Probe, sb: Path, in_process: bool) -> Outcome:
    t0 = time.perf_counter()
    sb.mkdir(parents=True)
    with contextlib.ExitStack() as stack:
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # rl-games prints while a network is built
                argv = p.setup(sb, stack)
        except Exception as exc:  # noqa: BLE001 - a probe that cannot be set up fails, the others still run
            return Outcome(p, False, f"setup failed: {type(exc).__name__}: {exc}", time.perf_counter() - t0)
        before = snapshot(sb)
        rc, out, err = run_cli(argv, in_process)
        after = snapshot(sb)
    dt = time.perf_counter() - t0
    lines = [ln for ln in err.splitlines() if ln.startswith(p.prefix) and ("error" in ln or p.prefix != "hoi-sim")]
    problems = []
    if rc == 0:
        problems.append("exit code 0")
    if "Traceback" in out + err:
        problems.append("printed a traceback")
    if not lines:
        problems.append(f"no '{p.prefix} …' error line")
    elif p.prefix == "hoi-sim" and len(lines) != 1:
        problems.append(f"{len(lines)} error lines")
    elif not any(all(e in ln for e in p.expect) for ln in lines):
        problems.append(f"the error does not name {p.expect}")
    changed = sorted(k for k in before if after.get(k) != before[k])
    new = sorted(set(after) - set(before))
    if changed:
        problems.append(f"changed {changed[:3]}")
    if new:
        problems.append(f"wrote {new[:3]}")
    if (sb / "pwned").exists():
        problems.append("ran the crafted checkpoint's code")
    shown = next((ln for ln in lines if all(e in ln for e in p.expect)), lines[0] if lines else err.strip()[-300:])
    return Outcome(p, not problems, "; ".join(problems) if problems else shown, dt)


def run_probes(*, fast: bool = False, in_process: bool = True, select: str | None = None,
               verbose: bool = False, log: Callable[[str], None] = print) -> list[Outcome]:
    """Run the probes (``fast``: the subset that needs no synthetic session) and return their outcomes."""
    base = Path(tempfile.mkdtemp(prefix="hoi_sim_probe_"))
    saved_cache = os.environ.get("HOI_SIM_CACHE")
    os.environ["HOI_SIM_CACHE"] = str(base / "cache")
    Session.path = None
    outcomes = []
    try:
        keys = [k for k in (select or "").split(",") if k]
        chosen = [p for p in PROBES if (not fast or p.fast) and (not keys or any(k in p.name for k in keys))]
        for i, p in enumerate(chosen):
            o = check(p, base / f"probe{i:02d}", in_process)
            outcomes.append(o)
            if verbose or not o.ok:
                log(f"{'ok  ' if o.ok else 'FAIL'} {p.name} ({o.seconds:.1f} s): {o.detail}")
    finally:
        if saved_cache is None:
            os.environ.pop("HOI_SIM_CACHE", None)
        else:
            os.environ["HOI_SIM_CACHE"] = saved_cache
        shutil.rmtree(base, ignore_errors=True)
    return outcomes


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fast", action="store_true", help="only the probes the test suite runs")
    ap.add_argument("--subprocess", action="store_true", help="each probe in a fresh python -m hoi_sim.cli")
    ap.add_argument("-k", dest="select", help="only probes whose name holds one of these (comma-separated)")
    ap.add_argument("-v", "--verbose", action="store_true", help="one line per probe, passed ones too")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    outcomes = run_probes(fast=args.fast, in_process=not args.subprocess, select=args.select, verbose=args.verbose)
    ok = sum(o.ok for o in outcomes)
    commands = sorted({o.probe.name.split(":")[0] for o in outcomes})
    print(f"bad-input probes: {ok}/{len(outcomes)} refused cleanly (non-zero exit, one-line error naming the file or "
          f"field, inputs unchanged) across {', '.join(commands)} in {time.perf_counter() - t0:.0f} s")
    return 0 if ok == len(outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
