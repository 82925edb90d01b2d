# SPEC step 6: SFT and DPO sets (new and cumulative), dataset_info.json, the next seed.


rule annotate:
    input:
        unpack(get_prev_sets),
        reviewed_seed="results/iter{t}/reviewed_seed.json",
        reviewed_new="results/iter{t}/reviewed_new.json",
        system=repo_path(config["prompts"]["system"]),
    output:
        sft="results/iter{t}/sft.json",
        dpo="results/iter{t}/dpo.json",
        new_sft="results/iter{t}/new_sft.json",
        new_dpo="results/iter{t}/new_dpo.json",
        dataset_info="results/iter{t}/dataset_info.json",
        next_seed="results/iter{t}/next_seed.json",
        stats="results/iter{t}/stats/annotate.json",
    params:
        script=script("annotate"),
        py=MAIN_PY,
        p=as_json({**config["annotate"], "split_threshold": config["split_threshold"]}),
    log:
        "logs/iter{t}/annotate.log",
    benchmark:
        "results/benchmarks/iter{t}/annotate.tsv"
    shell:
        "{params.py:q} {params.script:q} --params {params.p:q} --iteration {wildcards.t}"
        " --reviewed-seed {input.reviewed_seed:q} --reviewed-new {input.reviewed_new:q}"
        " --prev-sft {input.prev_sft:q} --prev-dpo {input.prev_dpo:q} --system-prompt {input.system:q}"
        " --sft {output.sft:q} --dpo {output.dpo:q} --new-sft {output.new_sft:q}"
        " --new-dpo {output.new_dpo:q} --dataset-info {output.dataset_info:q}"
        " --next-seed {output.next_seed:q} --stats {output.stats:q} 2>&1 | tee {log:q}"
