# Seed_0: validated and normalised, with ids and lineage; also sft_0 (= Seed_0) and dpo_0 (empty).


rule prepare_seed:
    input:
        **({"extra_sft": STAGED["seed.extra_sft"]} if "seed.extra_sft" in STAGED else {}),
        seed=STAGED["seed.path"],
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
        # for a warning only, so in the job param (no rerun trigger): outputs do not depend on it
        job=job_spec(max_model_len=config["vllm"]["max_model_len"]),
    shell:
        MAIN.shell("prepare_seed")


if AUTHORS_PROMPTS:

    # The authors' prompts (config prompts.<key>: authors:<NAME>), read from their
    # prompt_template.py without running it (lancekit.data.authors).
    rule authors_prompt:
        input:
            template=STAGED["authors.repo"],
        output:
            prompt="results/prompts/{key}.txt",
        log:
            "logs/prompts/{key}.log",
        wildcard_constraints:
            key="|".join(AUTHORS_PROMPTS),
        localrule: True
        conda:
            MAIN.conda
        params:
            code=code("authors_prompt"),
            settings=lambda wc: as_json({"name": AUTHORS_PROMPTS[wc.key], "key": wc.key}),
            job=job_spec(),
        shell:
            MAIN.shell("authors_prompt")


if MISSING_FILES:

    # Only when a file the user stages is missing (the seed, seed.extra_sft, the authors'
    # prompt file): a stand-in producer so that a dry run can plan the jobs that read it
    # (`./lance --configfile config/paper.yaml -n` before they are staged). A real run stops on
    # start (check_staged_data) before this or any job would run.
    rule missing_data:
        output:
            MISSING_FILES,
        params:
            problems=MISSING_DATA,
        run:
            raise config_error(params.problems)
