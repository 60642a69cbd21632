"""``hoi-sim render MOTION [--checkpoint CKPT] [-o OUT.mp4]``: an mp4 of a policy rollout with the reference shown
as a translucent blue ghost (orange: simulated humanoid), or, without ``--checkpoint``, a playback of the motion.

MOTION is a motion file (.npz HOIMotion or InterMimic .pt), a folder or a manifest (``--clip NAME`` picks a clip;
default: the first). Rendering is headless (MuJoCo's offscreen renderer with MUJOCO_GL=egl or osmesa).
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from hoi_sim.errors import InputError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("render", help="mp4 of a policy rollout (reference as a ghost) or of a motion file",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("motion", help="motion file, folder or manifest")
    p.add_argument("--checkpoint", "-c", help="policy checkpoint (.pth or run folder); omit to play the motion")
    p.add_argument("-o", "--out", help="output .mp4 (default: <clip>.mp4 in the current folder)")
    p.add_argument("--clip", help="clip name (file stem) when MOTION holds several")
    p.add_argument("--objects", help="object meshes of InterMimic .pt clips")
    p.add_argument("--frames", type=int, default=0, help="at most this many frames (0: the whole clip)")
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--height", type=int, default=480)
    p.add_argument("--ghost-offset", type=float, nargs=3, metavar=("X", "Y", "Z"), default=None,
                   help="shift the ghost (m), e.g. 0 1.2 0 to show it alongside instead of overlaid")
    p.add_argument("--force", action="store_true", help="overwrite the output file when it exists")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hoi_sim.viz.video import ensure_gl

    ensure_gl()
    from hoi_sim.io_utils import check_writable
    from hoi_sim.motions.manifest import list_clips, load_clip
    from hoi_sim.viz.video import render_motion_video, render_rollout_video

    if args.width % 16 or args.height % 16 or args.width <= 0 or args.height <= 0:
        raise InputError("--width and --height must be positive multiples of 16 (H.264)")
    clips = list_clips(args.motion)
    if args.clip:
        clips = [c for c in clips if c.name == args.clip]
        if not clips:
            raise InputError(f"{args.motion}: no clip named {args.clip!r}")
    entry = clips[0]
    out = Path(args.out or f"{entry.name}.mp4")
    check_writable(out, args.force, "-o")
    kw = {"width": args.width, "height": args.height}
    if args.checkpoint is None:
        motion = load_clip(entry, args.objects)
        print(f"[render] playing {entry.name} ({motion.num_frames} frames) → {out}", flush=True)
        render_motion_video(motion, out, max_frames=args.frames, **kw)
    else:
        from hoi_sim.eval.evaluate import EvalConfig, rollout_policy
        from hoi_sim.eval.policy import load_policy

        policy = load_policy(args.checkpoint)
        mc = policy.job.motions  # the clip as the policy's training prepared it
        entry = dataclasses.replace(entry, ground=bool(mc.ground), fix_penetration=bool(mc.fix_penetration))
        print(f"[render] rolling out {policy.label} on {entry.name}", flush=True)
        rollout = rollout_policy(policy, [entry], EvalConfig(max_envs=1, max_steps=args.frames), args.objects)[0]
        end = ("reached the clip end" if rollout.reached_end
               else f"ended by {', '.join(rollout.ended_by)}" if rollout.ended_by
               else "terminated" if rollout.terminated else "stopped at the frame cap")
        print(f"[render] {rollout.steps} steps ({end}); rendering → {out}", flush=True)
        render_rollout_video(rollout, load_clip(entry, args.objects or policy.job.motions.objects_dir), out,
                             ghost_offset=args.ghost_offset, **kw)
    print(f"[render] wrote {out}")
    return 0
