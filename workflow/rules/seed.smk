# Seed_0: validated and normalised, with ids and lineage; also sft_0 (= Seed_0) and dpo_0 (empty).


rule prepare_seed:
    input:
        seed=repo_path(config["seed"]["path"]),
        system=prompt_file("system"),
    output:
        seed="results/iter0/seed.json",
        sft="results/iter0/sft.json",
        dpo="results/iter0/dpo.json",
        stats="results/iter0/stats/seed.json",
    log:
        "logs/iter0/prepare_seed.log",
    conda:
        MAIN.conda
    params:
        code=code("prepare_seed"),
        settings=as_json({**config["seed"], "shuffle_seed": config["annotate"]["shuffle_seed"]}),
        job=job_spec(),
    shell:
        MAIN.shell("prepare_seed")


if MISSING_DATA:

    # Only when seed.path is missing: a stand-in producer so that a dry run can plan the jobs
    # that read it (`./lance --configfile config/paper.yaml -n` before the seed is staged). A real
    # run stops on start (check_staged_data) before this or any job would run.
    rule missing_data:
        output:
            repo_path(config["seed"]["path"]),
        params:
            problems=MISSING_DATA,
        run:
            raise config_error(params.problems)
