"""One real run of the whole loop (tiny settings, tests/integration/e2e.yaml), shared by every
integration test: the engines start once per engine stage, not once per test file."""

import pytest

from workflow import run_snakemake


@pytest.fixture(scope="session")
def run(tmp_path_factory):
    wd = tmp_path_factory.mktemp("e2e")
    run_snakemake(wd, "tests/integration/e2e.yaml")
    return wd / "results"
