# Algorithm step 6: the SFT and DPO sets of the iteration (new and cumulative), dataset_info.json
# and the next seed, as each method builds them (lancekit.methods). For the methods that review
# (LANCE, I-SHEEP) the judge-health budget is checked here, before anything reaches training.


rule annotate:
    input:
        unpack(annotate_inputs),
        unpack(get_prev_sets),
        system=prompt_file("system"),
    output:
        sft="results/{method}/iter{t}/sft.json",
        dpo="results/{method}/iter{t}/dpo.json",
        new_sft="results/{method}/iter{t}/new_sft.json",
        new_dpo="results/{method}/iter{t}/new_dpo.json",
        dataset_info="results/{method}/iter{t}/dataset_info.json",
        next_seed="results/{method}/iter{t}/next_seed.json",
        stats="results/{method}/iter{t}/stats/annotate.json",
    log:
        "logs/{method}/iter{t}/annotate.log",
    benchmark:
        "results/benchmarks/{method}/iter{t}/annotate.tsv"
    wildcard_constraints:
        method=method_constraint("annotate"),
    conda:
        MAIN.conda
    params:
        code=code("annotate"),
        settings=per_method(lambda m: asdict(m.annotate_settings(config))),
        job=job_spec(),
    shell:
        MAIN.shell("annotate")
