"""``hoi-sim solve --explain``: what every loss weight multiplies and in which unit, and the balance of the terms
(their weighted values and shares) at the first and last step of stage 1 and stage 2 of a solved session."""

from __future__ import annotations

from typing import Any

from hoi_sim.recon.config import SolverConfig
from hoi_sim.recon.stage1 import residual_weights


def weight_rows(cfg: SolverConfig) -> list[tuple[str, float, str, str]]:
    """(config key, value, what it multiplies, unit of that quantity) of every loss weight."""
    s1, w = cfg.stage1, cfg.stage2.weights
    w3, w2 = residual_weights(s1)
    conv = "√w" if s1.weight_convention == "paper" else "w"
    return [
        ("stage1.w3d", s1.w3d, f"3D pair residual R p + t − q, as {conv} (= {w3:g}); its square weighs {w3 * w3:g}",
         "m (residual), m² (square)"),
        ("stage1.w2d", s1.w2d, f"reprojection residual π(R p + t) − uv, as {conv} (= {w2:g}); square weighs "
         f"{w2 * w2:g}", "px (residual), px² (square)"),
        ("stage1.prior_weight", s1.prior_weight, "residual to the initial pose (δω, δt); its square weighs "
         f"{s1.prior_weight ** 2:g}", "rad, m"),
        ("stage1.smooth_weight", s1.smooth_weight, "residual of a moving object's world-pose acceleration "
         "[ρ·Δ²ω ; Δ²t] (ρ: the mesh's RMS radius); its square weighs " f"{s1.smooth_weight ** 2:g}",
         "m per frame²"),
        ("stage2.weights.contact", w.contact, "L_contact = Σ w_i d_i² (Eq. 18–19, a squared distance)", "m²"),
        ("stage2.weights.contact_eps", w.contact_eps, "ε in w_i = (d_i + ε)² / Σ(d_j + ε)²", "m"),
        ("stage2.weights.collision", w.collision, "L_collision = λ Σ φ_obj(human) + Σ φ_body(object) (Eq. 20, a sum "
         "of penetration depths, not squared)", "m"),
        ("stage2.weights.human_in_object", w.human_in_object, "λ: the human-inside-object depths within L_collision",
         "1"),
        ("stage2.weights.mask", w.mask, "L_mask (Eq. 17): MSE of silhouette coverage + edge term", "1 (coverage²) "
         "+ render px"),
        ("stage2.weights.mask_mse", w.mask_mse, "α: mean squared coverage error within L_mask", "1"),
        ("stage2.weights.mask_edge", w.mask_edge, "β: edge band × distance to the GT edge within L_mask", "render px"),
        ("stage2.weights.mask_human / mask_object", w.mask_human, f"human / object silhouette terms (object: "
         f"{w.mask_object:g})", "1"),
        ("stage2.weights.trans_guard", w.trans_guard, "limit of |δt| per axis before the 1e6·excess² guard", "m"),
    ]


def weights_table(cfg: SolverConfig) -> str:
    """The weights as aligned text lines."""
    rows = weight_rows(cfg)
    out = ["loss weights (value · what it multiplies [unit of that quantity])"]
    out += [f"  {k:40s} {v:>10g}  · {what} [{unit}]" for k, v, what, unit in rows]
    return "\n".join(out)


def _balance(title: str, first: dict[str, float], last: dict[str, float]) -> list[str]:
    t0, t1 = sum(first.values()) or 1.0, sum(last.values()) or 1.0
    out = [title, f"  {'term':14s} {'first':>12s} {'share':>7s} {'last':>12s} {'share':>7s}"]
    for k in first:
        out.append(f"  {k:14s} {first[k]:12.5g} {100 * first[k] / t0:6.1f}% {last[k]:12.5g} "
                   f"{100 * last[k] / t1:6.1f}%")
    return out


def balance_table(diag: dict[str, Any], cfg: SolverConfig) -> str:
    """Weighted terms and their shares at the first and last step of stage 1 (the solver's objective, from the
    initialisation to the stage-1 poses) and of stage 2 (its Adam loss, summed over keyframes)."""
    lines = []
    kr = diag.get("keep_or_revert", {})
    for stage, label in (("stage1", "stage 1"), ("stage2", "stage 2")):
        if stage in kr:
            lines += _balance(f"objective terms at the start and end of {label} (summed over its frames)",
                              kr[stage]["terms_before"], kr[stage]["terms_after"])
    hist, w = diag.get("stage2_loss"), cfg.stage2.weights
    if hist:
        scale = {"contact": w.contact, "collision": w.collision, "mask": w.mask, "guard": 1.0}
        first = {k: scale[k] * hist[k][0] for k in scale if k in hist}
        last = {k: scale[k] * hist[k][1] for k in scale if k in hist}
        lines += _balance("stage-2 Adam loss at its first and last step (weighted, summed over keyframes)", first,
                          last)
    for e in kr.values():
        lines.append(f"  {e['reason']}")
    return "\n".join(lines)
