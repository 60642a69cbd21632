"""Training (rl-games PPO on the HOI imitation env), one policy per action subset.

* ``hoi_sim.train.config``: ``PPOConfig`` (InterMimic teacher defaults), ``rlgames_params``.
* ``hoi_sim.train.job``: ``TrainJob``/``MotionsConfig`` from a plain resolved config, ``env_config``,
  ``load_run_config``.
* ``hoi_sim.train.runner``: ``train(job) -> TrainResult`` (resume, checkpoints, TensorBoard, progress).
* ``hoi_sim.train.agent``: the rl-games extension points (network, agent, observer); the env is registered with
  ``hoi_sim.envs.adapters.register_rlgames``.

Command line: ``hoi-sim train`` (Hydra; ``hoi_sim/cfg/config.yaml``), see docs/training.md.
"""
