# SPEC step 7 (LLaMA-Factory): M_0 = SFT of the base model on Seed_0 (iteration 0), then for each
# iteration t: M_{t-1} -> SFT on the cumulative sft_t -> DPO on the cumulative dpo_t, whose
# reference model is that SFT model -> M_t. An empty data set skips its stage (see lance_train.json).


def train_settings():
    s = {k: v for k, v in config["train"].items() if k != "m0"}
    s.setdefault("template", config["model"]["template"])
    if config["model"]["default_system"]:
        s.setdefault("default_system", config["model"]["default_system"])
    return as_json(s)


def get_sft_start(wildcards):
    t = int(wildcards.t)
    return get_base_model() if t == 0 else get_model(t - 1)


def get_sft_start_input(wildcards):
    t = int(wildcards.t)
    return get_base_model_input() if t == 0 else get_model_input(t - 1)


rule train_sft:
    input:
        engine_ready("llamafactory"),
        start=get_sft_start_input,
        data="results/iter{t}/sft.json",
        template=repo_path("config/train/sft.yaml"),
    output:
        model=directory("results/iter{t}/sft_model"),
    params:
        script=script("train"),
        py=engine_python("llamafactory"),
        start=get_sft_start,
        settings=train_settings(),
    threads: res("llamafactory", "threads", 8)
    resources:
        mem_mb=res("llamafactory", "mem_mb", 16000),
        runtime=res("llamafactory", "runtime", 240),
        gpu=res("llamafactory", "gpu", 0),
    log:
        "logs/iter{t}/train_sft.log",
    benchmark:
        "results/benchmarks/iter{t}/train_sft.tsv"
    conda:
        engine_conda("llamafactory")
    shell:
        "{params.py:q} {params.script:q} --stage sft --model {params.start:q} --data {input.data:q}"
        " --out {output.model:q} --template-file {input.template:q} --settings {params.settings:q}"
        " 2>&1 | tee {log:q}"


rule train_dpo:
    input:
        engine_ready("llamafactory"),
        start="results/iter{t}/sft_model",
        data="results/iter{t}/dpo.json",
        template=repo_path("config/train/dpo.yaml"),
    output:
        model=directory("results/iter{t}/model"),
    wildcard_constraints:
        t=r"[1-9]\d*",
    params:
        script=script("train"),
        py=engine_python("llamafactory"),
        settings=train_settings(),
    threads: res("llamafactory", "threads", 8)
    resources:
        mem_mb=res("llamafactory", "mem_mb", 16000),
        runtime=res("llamafactory", "runtime", 240),
        gpu=res("llamafactory", "gpu", 0),
    log:
        "logs/iter{t}/train_dpo.log",
    benchmark:
        "results/benchmarks/iter{t}/train_dpo.tsv"
    conda:
        engine_conda("llamafactory")
    shell:
        "{params.py:q} {params.script:q} --stage dpo --model {input.start:q} --data {input.data:q}"
        " --out {output.model:q} --template-file {input.template:q} --settings {params.settings:q}"
        " 2>&1 | tee {log:q}"
