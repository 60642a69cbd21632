"""Evaluation: the paper's metrics (Eq. 22–24) plus InterMimic's success rate and object error, deterministic
policy rollouts over every clip of a subset, and Table-1-style reports.

* ``hoi_sim.eval.metrics``: ``mpjpe``, ``graph_gaps``, ``contact_score``, ``contact_mean_distance``, ``jitter``,
  ``object_error``, ``success_rate`` (numpy, units in docs/metrics.md).
* ``hoi_sim.eval.policy``: ``load_policy(checkpoint) -> Policy`` (deterministic ``act``).
* ``hoi_sim.eval.rollout``: ``ClipEnv`` (env i plays clip i), ``rollout_clips``.
* ``hoi_sim.eval.periodic``: ``PeriodicEval``, the ``train.eval_every`` evaluation ``hoi-sim train`` hands to training.
* ``hoi_sim.eval.evaluate``: ``evaluate(checkpoints, motions, out_dir)``, ``rollout_policy``.
* ``hoi_sim.eval.report``: ``ClipResult``, ``build_rows``, ``write_report`` (md/csv/json/png).

Command line: ``hoi-sim eval checkpoint=PATH[,PATH…] motions=PATH out=DIR``.
"""
