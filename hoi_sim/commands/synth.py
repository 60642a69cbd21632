"""``hoi-sim synth MOTION [--object MESH] -o SESSION``: a synthetic annotated session with ground truth.

MOTION is a HOIMotion ``.npz``, an InterMimic ``.pt`` clip (its object mesh is looked up by name in the folder of
``--object``, or in an ``objects`` folder beside the clip) or ``toy`` (a built-in clip holding an egg).
``--object`` replaces the motion's mesh (centred at its vertex mean). The session is written in the annotation
app's release-B layout (``--layout A`` for release A) with ``ground_truth.npz`` beside it.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from hoi_sim.errors import InputError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("synth", help="synthetic annotated session with ground truth",
                       description=__doc__.split("\n")[0])
    p.add_argument("motion", type=Path, help="HOIMotion .npz or InterMimic .pt")
    p.add_argument("--object", type=Path, default=None, help="object mesh (.obj); replaces the motion's mesh")
    p.add_argument("-o", "--out", type=Path, required=True, help="session folder to write")
    p.add_argument("--noise", type=float, default=1.0,
                   help="multiplier of the default initialisation noise (5 deg per joint, 10 cm and 3 deg on the "
                        "object); 0 = exact initialisation")
    p.add_argument("--pose-noise-deg", type=float, default=None, help="RMS human joint rotation noise (deg)")
    p.add_argument("--obj-trans-noise-m", type=float, default=None, help="RMS object translation noise (m)")
    p.add_argument("--obj-rot-noise-deg", type=float, default=None, help="RMS object rotation noise (deg)")
    p.add_argument("--track-noise-px", type=float, default=None, help="2D track noise (pixels)")
    p.add_argument("--contact-threshold", type=float, default=0.1,
                   help="pair keypoints closer than this (m) to the object (paper §9.6: 0.1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--start", type=int, default=0, help="first motion frame to use (default 0)")
    p.add_argument("--frames", type=int, default=None, help="use N frames from --start (default: all)")
    p.add_argument("--static", choices=("auto", "yes", "no"), default="auto",
                   help="is_static_object flag (auto: the object moves < 1 cm and < 1 deg)")
    p.add_argument("--size", default="256x256", help="image size WxH (even numbers; default 256x256)")
    p.add_argument("--azimuth", type=float, default=None, help="camera azimuth (deg, z-up world); default: "
                   "30 deg off the person's facing direction at frame 0")
    p.add_argument("--layout", choices=("A", "B"), default="B",
                   help="annotation-app release layout to write (default B)")
    p.add_argument("--force", action="store_true", help="overwrite a non-empty output folder")
    p.set_defaults(func=run)


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise InputError(f"--size {text!r}: expected WxH, e.g. 256x256") from None
    if w < 16 or h < 16 or w % 2 or h % 2:
        raise InputError(f"--size {text!r}: width and height must be even and at least 16")
    return h, w


def load_motion_any(path: Path, object_mesh: Path | None):
    """HOIMotion from ``.npz`` or InterMimic ``.pt``; ``object_mesh`` replaces the mesh when given."""
    from hoi_sim.motions import from_intermimic, load_motion
    from hoi_sim.recon.session_io import read_obj

    if str(path) == "toy":
        from hoi_sim.bridge.toy import toy_hoi_motion

        motion = toy_hoi_motion(12)
    elif not path.is_file():
        raise InputError(f"{path}: motion file not found")
    elif path.suffix == ".pt":
        motion = from_intermimic(path, object_mesh.parent if object_mesh is not None else None)
    elif path.suffix == ".npz":
        motion = load_motion(path)
    else:
        raise InputError(f"{path}: unknown motion format (expected .npz or .pt)")
    if str(path) != "toy":
        from hoi_sim.motions.checked import check_loaded

        check_loaded(motion, path)
    if object_mesh is not None:
        v, f, _ = read_obj(object_mesh)
        motion.obj_vertices = (v - v.mean(0)).astype(np.float32)
        motion.obj_faces = f.astype(np.int32)
    return motion


def run(args: argparse.Namespace) -> int:
    from hoi_sim.bridge.synth import SynthNoise, make_synthetic_session

    size = _size(args.size)
    if args.noise < 0:
        raise InputError(f"--noise must not be negative, got {args.noise}")
    if args.frames is not None and args.frames < 1:
        raise InputError(f"--frames must be at least 1, got {args.frames}")
    out: Path = args.out
    if out.exists() and not out.is_dir():
        raise InputError(f"-o {out}: is an existing file, not a folder")
    if out.exists() and any(out.iterdir()) and not args.force:
        raise InputError(f"{out}: folder exists and is not empty (use --force to overwrite)")
    base = SynthNoise()
    noise = SynthNoise(
        human_pose_deg=args.pose_noise_deg if args.pose_noise_deg is not None else base.human_pose_deg * args.noise,
        obj_trans_m=args.obj_trans_noise_m if args.obj_trans_noise_m is not None else base.obj_trans_m * args.noise,
        obj_rot_deg=args.obj_rot_noise_deg if args.obj_rot_noise_deg is not None else base.obj_rot_deg * args.noise,
        track_px=args.track_noise_px if args.track_noise_px is not None else base.track_px * args.noise)
    t0 = time.time()
    print(f"loading {args.motion}", flush=True)
    motion = load_motion_any(args.motion, args.object)
    make_synthetic_session(motion, out, noise=noise, seed=args.seed, frames=args.frames, start=args.start,
                           image_size=size, static=None if args.static == "auto" else args.static == "yes",
                           azimuth_deg=args.azimuth, layout=args.layout, progress=lambda m: print(m, flush=True),
                           contact_threshold_m=args.contact_threshold)
    from hoi_sim.recon.ingest import load_session

    inp = load_session(out, load_masks=False)
    pairs = int(inp.active_pairs().sum())
    print(f"wrote {out}: {inp.num_frames} frames {inp.width}x{inp.height}, {pairs} contact pairs in "
          f"{len(inp.contact_frames())} frames, {int(inp.track_valid().sum())} 2D points, "
          f"ground_truth.npz ({time.time() - t0:.1f} s)")
    sys.stdout.flush()
    return 0
