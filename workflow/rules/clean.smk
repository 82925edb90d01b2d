# Algorithm step 4: length and ROUGE-L rules within each seed group (LANCE), or against the
# whole task pool with Self-Instruct's word filter (Self-Instruct, I-SHEEP); every drop has its reason.


rule clean:
    input:
        raw="results/{method}/iter{t}/raw.json",
    output:
        cleaned="results/{method}/iter{t}/cleaned.json",
        drops="results/{method}/iter{t}/clean_drops.json",
        stats="results/{method}/iter{t}/stats/clean.json",
    log:
        "logs/{method}/iter{t}/clean.log",
    benchmark:
        "results/benchmarks/{method}/iter{t}/clean.tsv"
    wildcard_constraints:
        method=method_constraint("clean"),
    conda:
        MAIN.conda
    params:
        code=code("clean"),
        settings=per_method(lambda m: {"clean": m.clean_settings(config)}),
        job=job_spec(),
    shell:
        MAIN.shell("clean")
