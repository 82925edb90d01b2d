# Algorithm step 7 (LLaMA-Factory): M_0 = SFT of the base model on Seed_0 (shared by every
# method), then per method and iteration t: LANCE M_{t-1} -> SFT on the cumulative sft_t -> DPO
# on the cumulative dpo_t, whose reference model is that SFT model -> M_t; Self-Instruct and
# I-SHEEP SFT only; SPIN DPO only, from and against M_{t-1}. An empty data set skips its stage
# (see lance_train.json).


rule train_m0:
    input:
        LLAMAFACTORY.ready,
        unpack(train_inputs),
        start=needs(lambda wc: get_base_model()),
        data="results/iter0/sft.json",
        template=repo_path("config/train/sft.yaml"),
    output:
        model=directory("results/iter0/sft_model"),
    log:
        "logs/iter0/train_sft.log",
    benchmark:
        "results/benchmarks/iter0/train_sft.tsv"
    conda:
        LLAMAFACTORY.conda
    threads: LLAMAFACTORY.threads
    resources:
        **LLAMAFACTORY.resources,
    params:
        code=code("train"),
        settings=train_job_settings("sft"),
        job=job_spec(start=lambda wc: get_base_model(), save_steps=config["train"]["save_steps"]),
    shell:
        LLAMAFACTORY.shell("train")


rule train_sft:
    input:
        LLAMAFACTORY.ready,
        unpack(train_inputs),
        start=needs(get_sft_start),
        data="results/{method}/iter{t}/sft.json",
        template=repo_path("config/train/sft.yaml"),
    output:
        model=directory("results/{method}/iter{t}/sft_model"),
    log:
        "logs/{method}/iter{t}/train_sft.log",
    benchmark:
        "results/benchmarks/{method}/iter{t}/train_sft.tsv"
    wildcard_constraints:
        method=method_constraint("train_sft"),
    conda:
        LLAMAFACTORY.conda
    threads: LLAMAFACTORY.threads
    resources:
        **LLAMAFACTORY.resources,
    params:
        code=code("train"),
        settings=train_job_settings("sft"),
        job=job_spec(start=get_sft_start, save_steps=config["train"]["save_steps"]),
    shell:
        LLAMAFACTORY.shell("train")


rule train_dpo:
    input:
        LLAMAFACTORY.ready,
        unpack(train_inputs),
        start=needs(get_dpo_start),
        data="results/{method}/iter{t}/dpo.json",
        template=repo_path("config/train/dpo.yaml"),
    output:
        model=directory("results/{method}/iter{t}/model"),
    log:
        "logs/{method}/iter{t}/train_dpo.log",
    benchmark:
        "results/benchmarks/{method}/iter{t}/train_dpo.tsv"
    wildcard_constraints:
        method=method_constraint("train_dpo"),
    conda:
        LLAMAFACTORY.conda
    threads: LLAMAFACTORY.threads
    resources:
        **LLAMAFACTORY.resources,
    params:
        code=code("train"),
        settings=train_job_settings("dpo"),
        job=job_spec(start=get_dpo_start, save_steps=config["train"]["save_steps"]),
    shell:
        LLAMAFACTORY.shell("train")
