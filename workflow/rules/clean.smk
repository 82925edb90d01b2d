# SPEC step 4: length and ROUGE-L rules within each seed group; every drop with its reason.


rule clean:
    input:
        raw="results/iter{t}/raw.json",
    output:
        cleaned="results/iter{t}/cleaned.json",
        drops="results/iter{t}/clean_drops.json",
        stats="results/iter{t}/stats/clean.json",
    params:
        script=script("clean"),
        py=MAIN_PY,
        p=as_json({"clean": config["clean"]}),
    log:
        "logs/iter{t}/clean.log",
    benchmark:
        "results/benchmarks/iter{t}/clean.tsv"
    shell:
        "{params.py:q} {params.script:q} --params {params.p:q} --input {input.raw:q}"
        " --out {output.cleaned:q} --drops {output.drops:q} --stats {output.stats:q} 2>&1 | tee {log:q}"
