"""setup_env: build an engine's pinned environment unless it is built, then write the stamp that
the stages take as input (the environment itself lives under $LANCE_ENV_DIR, outside results/)."""

from _cli import load_job
from lancekit.core import envs
from lancekit.core.io import write_text_atomic


def main() -> None:
    job = load_job(__doc__)
    python = envs.ensure(job.params["environment"])
    write_text_atomic(job.output.stamp, f"{python}\n")


if __name__ == "__main__":
    main()
