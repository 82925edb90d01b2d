# Training-seed replicates (train.seeds): M_0 and every M_t trained again per seed s, from the
# same start model on the same data as the main chain, with LLaMA-Factory's seed s, into
# results/<run>/seed<s>/ (run keys: lancekit.methods.runs). Each is evaluated by the evaluate
# rule (results/<run>/seed<s>/eval/summary.json) and the report shows the spread. The main chain
# (which generates the next iteration's data) is untouched: adding or removing a seed only adds
# or drops these jobs. A replicate's DPO starts from its own SFT model (LANCE), SPIN's from
# M_{t-1} of the main chain, as the main chain's does (common.smk, get_dpo_start).


use rule train_m0 as train_m0_seed with:
    output:
        model=directory("results/iter0/seed{s}/sft_model"),
    log:
        "logs/iter0/seed{s}/train_sft.log",
    benchmark:
        "results/benchmarks/iter0/seed{s}/train_sft.tsv"


use rule train_sft as train_sft_seed with:
    output:
        model=directory("results/{method}/iter{t}/seed{s}/sft_model"),
    log:
        "logs/{method}/iter{t}/seed{s}/train_sft.log",
    benchmark:
        "results/benchmarks/{method}/iter{t}/seed{s}/train_sft.tsv"


use rule train_dpo as train_dpo_seed with:
    output:
        model=directory("results/{method}/iter{t}/seed{s}/model"),
    log:
        "logs/{method}/iter{t}/seed{s}/train_dpo.log",
    benchmark:
        "results/benchmarks/{method}/iter{t}/seed{s}/train_dpo.tsv"
