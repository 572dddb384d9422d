"""How a study runs: the sweep (Ray start, stages, resume, progress), the trial (the trainable),
the driver's callbacks, capacity checks and the cluster connection."""
