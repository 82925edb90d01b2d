# The engines' pinned virtual environments, built on first use (see src/lancekit/core/envs.py).
# A stage's input is the stamp results/.envs/<env>.ready (ancient: its time never reruns a
# stage); the job behind it builds the venv unless it is ready, which takes no time once built.
# Under `--sdm conda` the rules use envs/*.yaml instead and nothing here runs.


localrules:
    setup_env,


rule setup_env:
    output:
        stamp="results/.envs/{envdir}.ready",
    log:
        "logs/envs/{envdir}.log",
    conda:
        MAIN.conda
    params:
        code=code("ensure_env"),
        settings=as_json({}),
        job=job_spec(
            environment=lambda wc: next(e for e in envs.ENVIRONMENTS if wc.envdir.startswith(e))
        ),
    shell:
        MAIN.shell("ensure_env")


rule envs:
    """Build every engine environment now (`./lance envs`)."""
    input:
        [env_stamp(e) for e in envs.ENGINES],
