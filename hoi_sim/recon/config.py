"""Every knob of 4DHOISolver as typed dataclasses (Hydra stays at the CLI edge; ``SolverConfig.from_dict`` builds one
from plain dicts). Defaults follow the released code (notes §6) unless the field's doc says otherwise; the choices
where the paper and the code differ are listed in ``docs/recon_solver.md``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass
class Stage1Config:
    """Object pose per frame by weighted least squares (Eq. 3), batched Levenberg–Marquardt on SE(3)."""

    w3d: float = 900.0
    """Weight of the 3D-3D pairs. Multiplies the *squared* residual ``|R p + t − q|²`` (m²; unit 1/m²) under
    'paper' (the residual is scaled by √w = 30); under 'code' the residual itself is scaled by w (its square by
    w² = 810000)."""
    w2d: float = 100.0
    """Weight of the 3D-2D reprojections (paper and code: 2). Multiplies the *squared* pixel residual
    ``|π(R p + t) − uv|²`` (px²; unit 1/px²) under 'paper' (the residual × √w); under 'code' the residual × w. The
    3D:2D balance on the squares is w3d:w2d (paper) or w3d²:w2d² (code): with 900 and 2, 450:1 against 202500:1, a
    factor 450 between the conventions. With the paper's 2 a noisy human's 3D pairs (annotated up to 10 cm apart, on
    a noisy pose) drag the object off its 2D tracks. On the solver_quality benchmark's 8-session tuning set, with the
    temporal prior, 20 → 60 → 100 → 120 → 200 → 500 gave translation 1.97 → 1.74 → 1.67 → 1.65 → 1.63 → 1.70 cm and
    rotation 0.93 → 0.91 → 0.93 → 0.94 → 0.97 → 1.01° after post (docs/recon_solver.md): 100 (9:1)."""
    weight_convention: Literal["paper", "code"] = "paper"
    """'paper' (Eq. 3): residuals are multiplied by √w (squared-cost weights 900 and 2); 'code': by w itself
    (squared-cost weights 810000 and 4, the released code). The code's convention lets a noisy human estimate
    drag the object: on synthetic OMOMO sessions with 5° human noise it gives 16° / 10 cm object error on contact
    frames against 0.8° / 4.5 cm for the paper's (docs/recon_solver.md)."""
    iterations: int = 50
    lambda_init: float = 1e-4
    """Initial LM damping, relative to the mean diagonal of JᵀJ."""
    tol: float = 1e-12
    """Stop a frame when its relative cost change falls below this."""
    step_tol: float = 1e-9
    """… or when its largest step component (rad, m) falls below this."""
    prior_weight: float = 1e-3
    """Weak pull toward the initial pose: multiplies the *residual* (δω in rad, δt in m; its square weighs 1e-6) so
    that frames with fewer than 6 DoF stay well posed; 0 disables it."""
    min_z: float = 0.1
    """Projection depth clamp (m), as release B."""
    kabsch_init: bool = True
    """Start frames with ≥ 3 non-collinear 3D pairs from the closed-form (Kabsch) alignment instead of the
    initial pose."""
    static: Literal["best_frame", "joint"] = "joint"
    """Static object: solve jointly over all annotated frames (default) or at the frame with most annotations
    (paper, code: 'best_frame'). On solver_quality's 8 static windows stage 1 at the best frame erred 3.78° /
    7.92 cm on average (worst 8.8° / 21 cm); pooled (with w2d = 20) 0.29° / 1.07 cm (worst 0.8° / 2.5 cm)."""
    smooth_weight: float = 1000.0
    """Temporal prior on a moving object (``hoi_sim/recon/stage1_temporal.py``): multiplies the *residual* of its
    world pose's acceleration, ``[ρ·Δ²ω ; Δ²t]`` (m per frame², ρ = the mesh's RMS radius), so all frames are solved
    in one LM. Against the 3D pairs' √w3d = 30 per m, a weight of 30 makes one frame's jerk of 1 cm cost what one
    pair's 1 cm error costs. 0 solves every frame on its own (paper, code). On solver_quality's 8-session tuning set
    (5 carried), after post: 0 → 30 → 100 → 300 → 1000 → 3000 gave translation 3.04 → 2.92 → 2.47 → 2.10 → 1.97 →
    2.06 cm and rotation 1.22 → 1.19 → 1.14 → 1.04 → 0.93 → 0.94° (docs/recon_solver.md). Per frame², so at a frame
    rate other than the benchmark's 30 fps the same weight smooths a different band."""


@dataclass
class IKConfig:
    """Limb IK after stage 1: damped least squares pulling annotated limb keypoints onto their object points."""

    enabled: bool = True
    iterations: int = 10
    damping: float = 0.05
    """λ of Δθ = Jᵀ(JJᵀ + λ²I)⁻¹e (m)."""
    max_step: float = 0.3
    """Largest per-joint rotation change per iteration (rad)."""
    tol: float = 1e-3
    """Stop when every pulled keypoint is this close to its target (m)."""
    keypoint_parts: tuple[str, ...] = ("leftHand", "rightHand", "leftFoot", "rightFoot", "leftForeArm",
                                       "rightForeArm", "leftLowerLeg", "rightLowerLeg")
    """Keypoint parts that drive IK (the released code used only the palms and soles)."""


@dataclass
class LossWeights:
    """Stage-2 loss weights (Eq. 4, 14–20); defaults are the released code's. ``hoi-sim solve --explain`` prints
    them with the balance of the weighted terms at the first and last step."""

    contact: float = 50000.0
    """Multiplies ``L_contact = Σ w_i d_i²`` (Eq. 18–19): a *squared* distance (m²), so unit 1/m²; a 1 cm gap on one
    pair costs 5e4·1e-4 = 5. The released code's 50 made a 1 cm gap cost 0.005, under 1 % of the stage-2 loss
    against collision's 99 % (``hoi-sim solve --explain``): stage 2 then only pushed bodies out of objects."""
    collision: float = 8.0
    """Multiplies ``L_collision = λ·Σ φ_obj(human vertices) + Σ φ_body(object vertices)`` (Eq. 20): a sum of
    penetration *depths*, not squared (m), so unit 1/m; one vertex 1 mm inside the object costs 8·10·1e-3 = 0.08."""
    mask: float = 0.05
    """Multiplies ``L_mask`` (Eq. 17): coverage MSE (dimensionless, squared) plus an edge term in render pixels."""
    contact_eps: float = 0.1
    """ε of Eq. 18 (m): the pair weights ``w_i = (d_i+ε)²/Σ(d_j+ε)²``."""
    collision_margin: float = 0.0
    """Penetration depth (m) that costs nothing in ``L_collision`` (each depth counts as ``max(φ − margin, 0)``);
    0 is Eq. 20. The proxy body's capsules and boxes are fatter than the SMPL-X surface the keypoints lie on, so
    the ground truth itself penetrates them (docs/recon_solver.md)."""
    human_in_object: float = 10.0
    """λ_{h→o} of Eq. 20 (dimensionless): human-in-object depths count this many times the object-in-human ones."""
    mask_mse: float = 1.5
    """α of Eq. 17 (dimensionless): multiplies the mean squared coverage error."""
    mask_edge: float = 1e-3
    """β of Eq. 17: multiplies Σ edge band × distance to the GT edge band (render pixels)."""
    mask_human: float = 0.5
    """Multiplies the human silhouette's α·MSE + β·edge (dimensionless)."""
    mask_object: float = 1.5
    """Multiplies the object silhouette's α·MSE + β·edge (dimensionless)."""
    trans_guard: float = 0.1
    """Largest object translation change in stage 2 per axis (m) before the 1e6·excess² (1/m²) penalty."""


@dataclass
class RenderConfig:
    """Differentiable silhouette renderer (soft rasteriser)."""

    scale: float = 0.25
    """Render resolution relative to the video (¼ as the released code)."""
    max_side: int = 96
    """Upper bound on the render's long side (pixels), for CPU speed."""
    sigma: float = 0.25
    """Softness of the edge sigmoid, in render pixels."""
    occlusion: Literal["gt_mask", "depth"] = "gt_mask"
    """Eq. 13 with ground-truth masks (paper, code) or by rendered depth order."""
    edge_pool: int = 7
    """Max-pool kernel of the edge band (Eq. 15)."""
    object_faces: int = 600
    """Object mesh is decimated to about this many vertices for silhouettes and collision."""


@dataclass
class Stage2Config:
    """Adam on keyframes (Alg. 1)."""

    enabled: bool = True
    keyframe_interval: int = 3
    """K: keyframes 0, K, 2K, … and the last frame."""
    steps: int = 20
    """Adam steps per keyframe (paper 20; released code 30)."""
    lr_pose: float = 1e-3
    lr_hand: float = 3e-3
    lr_betas: float = 0.0
    """0 keeps betas fixed (the code optimises them at 1e-3; the proxy body ignores them)."""
    lr_obj_rot: float = 3.5e-5
    """Object rotation residual (rad/step): the released code's 2e-3 *degrees*; stage 1 fixes the rotation."""
    lr_obj_trans: float = 2e-4
    """Object translation residual (m/step; the code: 1e-3). Smaller because on the proxy body the collision
    term outweighs the mask term and pushes a correct object off (docs/recon_solver.md)."""
    joint_mask: Literal["tree", "released"] = "tree"
    """'tree': joints on the kinematic chain of each keyframe's contacts up to ``chain_depth`` (paper);
    'released': the own joint of every contact in the sequence (code)."""
    chain_depth: int = 3
    """Joints unlocked per contact in 'tree' mode: the contact's body and its ancestors, this many in all."""
    optimize_object: bool = False
    """Let stage 2 move the object too (paper, code). Off: on the proxy body its contact and collision terms pulled
    the object away from the truth (solver_quality, 24 sessions: post − stage 1 up to +0.33 cm, where post's filter
    alone moves it ≤ 0.022 cm; translation mean 1.05 → 1.11 cm) for 0.01 cm less contact and 0.02 cm less
    penetration excess on the mean (docs/recon_solver.md); the human alone closes the contacts."""
    keyframe_batch: int = 48
    """Keyframes optimised together in one Adam batch (memory bound; results do not depend on it)."""
    sdf_resolution: int = 32
    sdf_scale: float = 1.2
    weights: LossWeights = field(default_factory=LossWeights)
    render: RenderConfig = field(default_factory=RenderConfig)


@dataclass
class PostConfig:
    """After the keyframe loop: static strategy, pre-contact frames, interpolation, smoothing."""

    interpolation: Literal["residual", "anchors"] = "residual"
    """'anchors' (code): in-between frames are interpolated from keyframes only; 'residual': the stage-2 change
    (keyframe minus its stage-1 value) is interpolated and added to every frame's stage-1/IK solution."""
    pose_interp: Literal["slerp", "lerp"] = "slerp"
    """Human joint rotations between keyframes: per-joint slerp, or the code's component-wise lerp."""
    pre_contact: Literal["hold", "track"] = "track"
    """Frames before the first 3D contact: keep their stage-1 solutions from the 2D tracks where they have ≥ 6 DoF,
    holding the first contact frame's pose (fixed in the world) only where they don't ('track'); or hold it on all
    of them, discarding the tracks (the released code, 'hold')."""
    smoothing: Literal["butterworth", "ema_box", "none"] = "butterworth"
    cutoff_hz: float = 6.0
    butter_order: int = 4
    ema_alpha: float = 0.25
    box_window: int = 7
    ema_passes: int = 2
    smooth_root: bool = False
    """Also smooth the human global orient/transl (the code never does)."""
    smooth_object: Literal["auto", "always", "never"] = "auto"
    """Low-pass the object pose too. 'auto': unless stage 1's temporal prior (``stage1.smooth_weight`` > 0) already
    smoothed it inside the fit and stage 2 left it alone (``stage2.optimize_object`` false); a second filter then
    only nudges it (≤ 0.02 cm on solver_quality). 'always': the code's choice."""


@dataclass
class SolverConfig:
    """The whole solver; ``dtype`` of the stage-2 tensors is float32, stage 1 runs in float64."""

    stage1: Stage1Config = field(default_factory=Stage1Config)
    ik: IKConfig = field(default_factory=IKConfig)
    stage2: Stage2Config = field(default_factory=Stage2Config)
    post: PostConfig = field(default_factory=PostConfig)
    keep_or_revert: bool = True
    """Keep each stage (stage 1, IK, stage 2) per frame only where it lowered the solver's own objective
    (``hoi_sim.recon.objective``); False keeps every stage's result (the decisions are still logged)."""
    threads: int = 0
    """torch intra-op threads while solving; 0 = auto (``hoi_sim.threads.auto_threads``): one per core when idle
    OpenMP threads sleep (``OMP_WAIT_POLICY=PASSIVE``, which ``hoi-sim`` sets), else 1. With spinning threads, two
    threads ran 7× slower than one on a busy 2-core machine (60 s against 8 s per 100 frames); with sleeping ones
    two ran 5.2 s against one's 6.0 s per 100 frames beside a training run (docs/recon_solver.md)."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @staticmethod
    def from_dict(d: dict[str, Any] | None) -> SolverConfig:
        """Build from nested plain dicts (unknown keys raise ValueError naming them)."""
        return _build(SolverConfig, d or {}, "solver")


def _build(cls: type, d: dict[str, Any], where: str) -> Any:
    kw: dict[str, Any] = {}
    known = {f.name: f for f in dataclasses.fields(cls)}
    for k, v in d.items():
        if k not in known:
            raise ValueError(f"unknown solver config key {where}.{k}")
        default = getattr(cls(), k)
        if dataclasses.is_dataclass(default) and isinstance(v, dict):
            kw[k] = _build(type(default), v, f"{where}.{k}")
        elif isinstance(default, tuple):
            kw[k] = tuple(v)
        else:
            kw[k] = v
    return cls(**kw)
