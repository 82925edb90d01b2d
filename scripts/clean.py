"""clean: length and ROUGE-L rules of algorithm step 4, as the method applies them (within each
seed group for LANCE, against the whole task pool for Self-Instruct and I-SHEEP); every drop has
its reason."""

from _cli import Timer, load_job
from lancekit.core.io import read_json, write_json
from lancekit.data.clean import CleanRules, clean_groups


def main() -> None:
    job = load_job(__doc__)
    timer = Timer("clean")
    items, drops, stats = clean_groups(read_json(job.input.raw), CleanRules.from_config(job.params["clean"]))
    stats["seconds"] = round(timer.done(), 2)
    write_json(job.output.cleaned, items)
    write_json(job.output.drops, drops)
    write_json(job.output.stats, stats)


if __name__ == "__main__":
    main()
