"""``hoi-sim plot RUN [RUN ...] [-o curves.png] [--x epoch|frames|elapsed_s]``: learning curves of training runs.

Reads each run folder's progress.csv and draws one PNG (default RUN/curves.png of the first run) with the mean
episode reward, the mean episode length (s, and as a fraction of the clip), the eval MPJPE (mm) and how far into
the clip that rollout got (at the evaluation epochs of train.eval_every) and the training throughput; one line per
run, labelled by folder name.
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plot", help="learning curves (PNG) of training runs' progress.csv", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", metavar="RUN", help="training run folder(s) holding a progress.csv")
    p.add_argument("-o", "--out", default=None, help="output PNG (default: <first RUN>/curves.png)")
    p.add_argument("--x", default="epoch", choices=("epoch", "frames", "elapsed_s"),
                   help="x axis: epoch, frames (samples collected) or elapsed_s (wall time); default epoch")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hoi_sim.viz.curves import plot_runs

    out = plot_runs(args.runs, args.out, x=args.x)
    print(f"[plot] {len(args.runs)} run(s) -> {out}")
    return 0
