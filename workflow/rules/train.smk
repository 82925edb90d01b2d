# Algorithm step 7 (LLaMA-Factory): M_0 = SFT of the base model on Seed_0 (shared by every
# method), then per method and iteration t: LANCE M_{t-1} -> SFT on the cumulative sft_t -> DPO
# on the cumulative dpo_t, whose reference model is that SFT model -> M_t; Self-Instruct and
# I-SHEEP SFT only; SPIN DPO only, from and against M_{t-1}. An empty data set skips its stage
# (see lance_train.json).
# Settings: `train`, and for a method's jobs its block train.methods.<method>
# (lancekit.training.settings); each job logs its optimizer-step plan before it trains.


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
        job=wiring.train_job(config, lambda wc: get_base_model()),
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
        job=wiring.train_job(config, get_sft_start),
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
        job=wiring.train_job(config, get_dpo_start),
    shell:
        LLAMAFACTORY.shell("train")
