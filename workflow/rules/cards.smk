# Cards (lancekit.report.cards): a Hub-format README.md and the resolved config beside it
# (lance_config.yaml) for each iteration's training sets (results/<run>/cards/data/) and each of
# its model folders (cards/sft_model/, cards/model/); run: iter0 or <method>/iter<t>. The model
# folders are the training rules' directory() outputs, which no later rule may touch, so their
# cards lie beside them and the export puts folder and card together. Only on request:
# `./lance cards` (every card), `./lance export` (config `export`; results/export/<name>/).
from lancekit.report import cards as lance_cards
from lancekit.report import export as lance_export

# the config that made the sets and models (less `export`): a change rewrites every card
CARD_SETTINGS = {
    "config": lance_cards.made_config(config),
    "license": config["export"]["license"],
    "seed_path": config["seed"]["path"],
}
EXPORT_PLAN = lance_export.export_plan(config)
# common.smk's model paths, which the cards name (generator, judge, training start)
MODEL_PATHS = {
    "model": get_model,
    "sft_start": get_sft_start,
    "dpo_start": get_dpo_start,
    "base": get_base_model,
}


rule data_card:
    input:
        unpack(lambda wc: lance_export.card_inputs(wc.run, STAGED["seed.path"])),
    output:
        card="results/{run}/cards/data/README.md",
        config="results/{run}/cards/data/lance_config.yaml",
    log:
        "logs/{run}/cards_data.log",
    wildcard_constraints:
        run=lance_export.run_pattern(config["methods"]),
    localrule: True
    conda:
        MAIN.conda
    params:
        code=code("cards"),
        settings=as_json(CARD_SETTINGS),
        job=job_spec(
            folder="data",
            run=lambda wc: wc.run,
            models=lambda wc: lance_export.card_models(wc.run, "data", MODEL_PATHS),
        ),
    shell:
        MAIN.shell("cards")


rule model_card:
    input:
        unpack(lambda wc: lance_export.card_inputs(wc.run, STAGED["seed.path"])),
        model="results/{run}/{folder}",
    output:
        card="results/{run}/cards/{folder}/README.md",
        config="results/{run}/cards/{folder}/lance_config.yaml",
    log:
        "logs/{run}/cards_{folder}.log",
    wildcard_constraints:
        run=lance_export.run_pattern(config["methods"]),
        folder="sft_model|model",
    localrule: True
    conda:
        MAIN.conda
    params:
        code=code("cards"),
        settings=as_json(CARD_SETTINGS),
        job=job_spec(
            folder=lambda wc: wc.folder,
            run=lambda wc: wc.run,
            models=lambda wc: lance_export.card_models(wc.run, wc.folder, MODEL_PATHS),
        ),
    shell:
        MAIN.shell("cards")


rule cards:
    input:
        lance_export.all_cards(config),


# Export: here, not on a cluster node (the upload needs the network; export.push, HF_HUB_OFFLINE=0)
rule export:
    input:
        lance_export.plan_inputs(EXPORT_PLAN),
    output:
        folder=directory(EXPORT_PLAN["folder"]),
        manifest=f"{EXPORT_PLAN['folder']}.json",
    log:
        "logs/export.log",
    localrule: True
    conda:
        MAIN.conda
    params:
        code=code("export"),
        settings=as_json({"plan": EXPORT_PLAN}),
        job=job_spec(),
    shell:
        MAIN.shell("export")
