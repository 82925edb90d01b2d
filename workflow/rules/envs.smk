# The engines' pinned virtual environments, built on first use (see src/lancekit/envs.py).
# Under `--sdm conda` the rules use envs/*.yaml instead and nothing here runs.


localrules:
    setup_env,


rule setup_env:
    output:
        f"{envs.env_root().as_posix()}/{{envdir}}/{envs.READY}",
    log:
        "logs/envs/{envdir}.log",
    conda:
        engine_conda("main")
    params:
        engine=lambda wc: next(e for e in envs.ENGINES if wc.envdir.startswith(e)),
    shell:
        '"$LANCE_PY_MAIN" "$LANCE_SCRIPTS/setup_env.py" {params.engine:q} 2>&1 | tee {log:q}'


rule envs:
    """Build every engine environment now (`./lance envs`)."""
    input:
        [envs.env_path(e) / envs.READY for e in ("vllm", "llamafactory", "opencompass")],
