"""Videos: ``GhostScene`` (simulated humanoid + translucent reference ghost, ``hoi_sim.viz.scene``) rendered
headless with ``mujoco.Renderer`` and encoded with imageio-ffmpeg (``hoi_sim.viz.video``: ``render_video``,
``render_motion_video``, ``render_rollout_video``). Command line: ``hoi-sim render``."""
