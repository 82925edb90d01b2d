# Algorithm step 7 (LLaMA-Factory): M_0 = SFT of the base model on Seed_0 (iteration 0), then for
# each iteration t: M_{t-1} -> SFT on the cumulative sft_t -> DPO on the cumulative dpo_t, whose
# reference model is that SFT model -> M_t. An empty data set skips its stage (see lance_train.json).


def train_settings():
    s = {k: v for k, v in config["train"].items() if k != "m0"}
    s.setdefault("template", config["model"]["template"])
    if config["model"]["default_system"]:
        s.setdefault("default_system", config["model"]["default_system"])
    s["trust_remote_code"] = config["model"]["trust_remote_code"]
    return s


def train_job_settings(stage):
    return as_json({"stage": stage, "train": train_settings(), "base_model": config["model"]["base"]})


def get_sft_start(wildcards):
    t = int(wildcards.t)
    return get_base_model() if t == 0 else get_model(t - 1)


def get_sft_start_input(wildcards):
    t = int(wildcards.t)
    return model_input(None) if t == 0 else model_input(t - 1)


rule train_sft:
    input:
        engine_ready("llamafactory"),
        start=get_sft_start_input,
        data="results/iter{t}/sft.json",
        template=repo_path("config/train/sft.yaml"),
    output:
        model=directory("results/iter{t}/sft_model"),
    params:
        code=code("train"),
        settings=train_job_settings("sft"),
        job=job_spec(start=get_sft_start),
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
        stage_cmd("llamafactory", "train")


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
        code=code("train"),
        settings=train_job_settings("dpo"),
        job=job_spec(start=lambda wc: f"results/iter{wc.t}/sft_model"),
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
        stage_cmd("llamafactory", "train")
