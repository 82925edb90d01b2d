"""train_sft / train_dpo: one LLaMA-Factory stage (run with the llamafactory environment's python).

SFT starts from M_{t-1} (the base model for M_0), DPO from this iteration's SFT model, which is
also DPO's reference model. An empty data set skips the stage and carries the model over
(lance_train.json says so). See lancekit.training.llamafactory for the work folder, the
checkpoints a killed run resumes from, and the atomic publish. Before it trains, the job prints
its optimizer-step plan (lancekit.training.plan), with a WARNING under train.min_steps_warning.
"""

import json
import sys
from pathlib import Path

from _cli import load_job
from lancekit.training.config import TrainConfigError
from lancekit.training.llamafactory import TrainError, train


def main() -> int:
    job = load_job(__doc__)
    p = job.params
    try:
        settings = {**p["train"], "save_steps": p.get("save_steps", 0)}
        info = train(p["stage"], p["start"], job.input.data, job.output.model, job.input.template, settings,
                     min_steps=p.get("min_steps_warning", 0), tracking=p.get("tracking", "none"))
    except (TrainError, TrainConfigError) as exc:
        print(f"train: ERROR: {exc}\n(work dir kept for inspection: {Path(job.output.model).resolve()}.work)",
              file=sys.stderr)
        return 1
    summary = {k: info.get(k) for k in ("stage", "skipped", "reason", "n_examples", "planned_steps", "steps",
                                        "seconds", "final_loss")}
    print(f"train: done: {json.dumps(summary)} -> {job.output.model}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
