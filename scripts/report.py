"""report: the one page a researcher reads in a minute (lancekit.report.page): the methods compared
in the paper's layout, every iteration, the paper's numbers beside ours, and per method the data
funnel, judge health and bias, training and wall time. Every file it reads and writes is the rule's."""

from _cli import load_job
from lancekit.core.io import InputError
from lancekit.report.page import write_report


def main() -> None:
    job = load_job(__doc__)
    try:
        page = write_report(job.params["layout"], vars(job.output), job.params.get("judge_gold"))
    except InputError as e:  # a garbled summary, stats file, training record or timing table
        raise SystemExit(f"error: report: {e}") from None
    print(page)


if __name__ == "__main__":
    main()
