"""``hoi-sim eval checkpoint=PATH[,PATH…] motions=PATH out=DIR [KEY=VALUE …]``: deterministic rollouts of trained
policies over every clip of their action subset; writes DIR/report.md, report.csv, report.json and report.png
(the paper's Table 1: rows = reward settings, columns = MPJPE, contact, jitter, success rate, object error, plus
the reference motion as a baseline row).

A checkpoint is a ``.pth`` written by ``hoi-sim train`` or a run folder (its nn/last.pth); its reward setting and
subset come from the config.yaml beside it. Other keys: eval.max_envs, eval.form=surface|joint|keypoint, eval.baseline,
eval.max_steps, eval.terminations, motions.objects_dir (see hoi_sim.eval.evaluate.EvalConfig).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from hoi_sim.commands.hydra_config import compose
from hoi_sim.errors import HoiSimError, InputError


def split_checkpoints(overrides: list[str]) -> tuple[list[str], list[str]]:
    """Take ``checkpoint=A,B`` out of the overrides (paths need no Hydra quoting); returns (checkpoints, rest)."""
    ckpts: list[str] = []
    rest = []
    for o in overrides:
        key, sep, value = o.partition("=")
        if sep and key in ("checkpoint", "checkpoints"):
            ckpts += [v.strip() for v in value.split(",") if v.strip()]
        else:
            rest.append(o)
    return ckpts, rest


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="evaluate checkpoints: Table-1 report (md/csv/json/png)", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="checkpoint=…, motions=…, out=…, eval.*")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hoi_sim.config_mapping import from_mapping
    from hoi_sim.eval.evaluate import EvalConfig, evaluate

    ckpts, rest = split_checkpoints(list(args.overrides))
    if not ckpts:
        raise HoiSimError("no checkpoint given: pass checkpoint=PATH[,PATH…]")
    cfg = compose(rest)
    motions = (cfg.get("motions") or {}).get("path")
    if not motions:
        raise HoiSimError("no motions given: pass motions=PATH (a motion file, folder or manifest)")
    ecfg = from_mapping(EvalConfig, cfg.get("eval"), "eval")
    if Path(cfg["out"]).exists() and not Path(cfg["out"]).is_dir():
        raise InputError(f"out={cfg['out']}: is an existing file, not a folder; choose another out=DIR")
    paths = evaluate(ckpts, motions, cfg["out"], ecfg, objects_dir=(cfg.get("motions") or {}).get("objects_dir"))
    print(f"[eval] report: {paths['md']} (+ .csv .json .png)")
    return 0
