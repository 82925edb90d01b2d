# Algorithm step 7 (LLaMA-Factory): M_0 = SFT of the base model on Seed_0 (iteration 0), then for
# each iteration t: M_{t-1} -> SFT on the cumulative sft_t -> DPO on the cumulative dpo_t, whose
# reference model is that SFT model -> M_t. An empty data set skips its stage (see lance_train.json).


rule train_sft:
    input:
        engine_ready("llamafactory"),
        unpack(train_inputs),
        start=needs(get_sft_start),
        data="results/iter{t}/sft.json",
        template=repo_path("config/train/sft.yaml"),
    output:
        model=directory("results/iter{t}/sft_model"),
    log:
        "logs/iter{t}/train_sft.log",
    benchmark:
        "results/benchmarks/iter{t}/train_sft.tsv"
    conda:
        engine_conda("llamafactory")
    threads: res("llamafactory", "threads", 8)
    resources:
        **engine_resources("llamafactory", runtime=240),
    params:
        code=code("train"),
        settings=train_job_settings("sft"),
        job=job_spec(start=get_sft_start, save_steps=config["train"]["save_steps"]),
    shell:
        stage_cmd("llamafactory", "train")


rule train_dpo:
    input:
        engine_ready("llamafactory"),
        unpack(train_inputs),
        start="results/iter{t}/sft_model",
        data="results/iter{t}/dpo.json",
        template=repo_path("config/train/dpo.yaml"),
    output:
        model=directory("results/iter{t}/model"),
    log:
        "logs/iter{t}/train_dpo.log",
    benchmark:
        "results/benchmarks/iter{t}/train_dpo.tsv"
    wildcard_constraints:
        t=r"[1-9]\d*",
    conda:
        engine_conda("llamafactory")
    threads: res("llamafactory", "threads", 8)
    resources:
        **engine_resources("llamafactory", runtime=240),
    params:
        code=code("train"),
        settings=train_job_settings("dpo"),
        job=job_spec(
            start=lambda wc: f"results/iter{wc.t}/sft_model",
            save_steps=config["train"]["save_steps"],
        ),
    shell:
        stage_cmd("llamafactory", "train")
