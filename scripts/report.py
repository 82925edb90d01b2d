"""report: the one page a researcher reads in a minute (lancekit.report.page): the methods compared
in the paper's layout, every iteration, the paper's numbers beside ours, and per method the data
funnel, judge health and bias, training and wall time. With config `tracking` (tensorboard, wandb,
mlflow) it also logs each iteration's statistics and sample generations to that tracker, into the
rule's `tracking` output (lancekit.report.tracking). Every file it reads and writes is the rule's."""

from _cli import load_job
from lancekit.core.io import InputError
from lancekit.report.page import write_report
from lancekit.report.tracking import TrackingError, from_layout, write_tracking


def main() -> None:
    job = load_job(__doc__)
    out = {k: v for k, v in vars(job.output).items() if k != "tracking"}
    tracking = job.params.get("tracking", "none")
    try:
        page = write_report(job.params["layout"], out, job.params.get("judge_gold"), job.params.get("cost"))
        if tracking != "none":
            runs = from_layout(job.params["layout"], job.params.get("samples") or {})
            write_tracking(tracking, runs, job.output.tracking)
    except (InputError, TrackingError) as e:  # a garbled input file; a tracker whose package is missing
        raise SystemExit(f"error: report: {e}") from None
    print(page)


if __name__ == "__main__":
    main()
