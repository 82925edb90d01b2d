"""Training with LLaMA-Factory: the adapter that runs `llamafactory-cli` in a work folder,
resumes a killed run from its checkpoint and publishes the model atomically (`llamafactory`,
import it only inside the llamafactory environment), and the pure building of its configs and
data descriptions (`config`), of each job's settings from the config's `train` section and its
per-method blocks (`settings`), and of a job's optimizer-step plan (`plan`).

May import: lancekit.core.
"""
