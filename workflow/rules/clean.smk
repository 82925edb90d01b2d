# Algorithm step 4: length and ROUGE-L rules within each seed group; every drop with its reason.


rule clean:
    input:
        raw="results/iter{t}/raw.json",
    output:
        cleaned="results/iter{t}/cleaned.json",
        drops="results/iter{t}/clean_drops.json",
        stats="results/iter{t}/stats/clean.json",
    log:
        "logs/iter{t}/clean.log",
    benchmark:
        "results/benchmarks/iter{t}/clean.tsv"
    conda:
        engine_conda("main")
    params:
        code=code("clean"),
        settings=as_json({"clean": config["clean"]}),
        job=job_spec(),
    shell:
        stage_cmd("main", "clean")
