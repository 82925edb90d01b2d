# Algorithm step 6: SFT and DPO sets (new and cumulative), dataset_info.json, the next seed.
# The judge-health budget is checked here, before anything reaches training.


rule annotate:
    input:
        unpack(get_prev_sets),
        reviewed_seed="results/iter{t}/reviewed_seed.json",
        reviewed_new="results/iter{t}/reviewed_new.json",
        seed_stats="results/iter{t}/stats/review_seed.json",
        new_stats="results/iter{t}/stats/review_new.json",
        system=prompt_file("system"),
    output:
        sft="results/iter{t}/sft.json",
        dpo="results/iter{t}/dpo.json",
        new_sft="results/iter{t}/new_sft.json",
        new_dpo="results/iter{t}/new_dpo.json",
        dataset_info="results/iter{t}/dataset_info.json",
        next_seed="results/iter{t}/next_seed.json",
        stats="results/iter{t}/stats/annotate.json",
    log:
        "logs/iter{t}/annotate.log",
    benchmark:
        "results/benchmarks/iter{t}/annotate.tsv"
    conda:
        engine_conda("main")
    params:
        code=code("annotate"),
        settings=as_json(
            {
                "annotate": config["annotate"],
                "split_threshold": config["split_threshold"],
                "health": {
                    k: config["review"][k] for k in ("max_parse_failure_rate", "max_unscored_rate")
                },
            }
        ),
        job=job_spec(),
    shell:
        stage_cmd("main", "annotate")
