# Seed_0: validated and normalised, with ids and lineage; also sft_0 (= Seed_0) and dpo_0 (empty).


rule prepare_seed:
    input:
        seed=repo_path(config["seed"]["path"]),
        system=repo_path(config["prompts"]["system"]),
    output:
        seed="results/iter0/seed.json",
        sft="results/iter0/sft.json",
        dpo="results/iter0/dpo.json",
        stats="results/iter0/stats/seed.json",
    params:
        script=script("prepare_seed"),
        py=MAIN_PY,
        p=as_json({**config["seed"], "shuffle_seed": config["annotate"]["shuffle_seed"]}),
    log:
        "logs/iter0/prepare_seed.log",
    shell:
        "{params.py:q} {params.script:q} --params {params.p:q} --seed-file {input.seed:q}"
        " --system-prompt {input.system:q} --seed {output.seed:q} --sft {output.sft:q}"
        " --dpo {output.dpo:q} --stats {output.stats:q} 2>&1 | tee {log:q}"
