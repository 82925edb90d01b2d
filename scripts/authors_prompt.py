"""authors_prompt: one of the LANCE authors' prompts (config prompts.<key>: authors:<NAME>), read
from their src/prompt_template.py without running it, in our slot syntax ({instruction} becomes
{prompt}), written as a text template like the shipped ones."""

from _cli import load_job
from lancekit.core.io import write_text_atomic
from lancekit.data.authors import AuthorsError, read_prompt


def main() -> None:
    job = load_job(__doc__)
    p = job.params
    try:
        text = read_prompt(job.input.template, p["name"])
    except AuthorsError as e:
        raise SystemExit(f"error: prompts.{p['key']}: {e}") from None
    write_text_atomic(job.output.prompt, text + "\n")
    print(f"prompts.{p['key']}: {p['name']} of {job.input.template}, {len(text)} characters")


if __name__ == "__main__":
    main()
