"""What LLaMA-Factory (envs/llamafactory.txt: 0.9.5, with transformers 5.6.0) accepts, as data, so
that the dry run's config check (lancekit.pipeline.config_check) refuses a wrong name before any
job instead of ``train_m0`` failing hours later:

- TEMPLATES: its chat templates, every ``register_template(name=...)`` of llamafactory/data/template.py;
- ARGUMENTS: what ``llamafactory-cli train`` parses (``get_train_args``: the init fields of
  ModelArguments, DataArguments, TrainingArguments with transformers' Seq2SeqTrainingArguments,
  FinetuningArguments and GeneratingArguments); any other key stops it ("Some specified arguments
  are not used by the HfArgumentParser").

``extra_problems`` checks every ``extra`` block of the config's ``train`` against ARGUMENTS.

Both lists are read from the installed sources with ``ast`` (nothing is imported or run):
tests/unit/test_config_check.py compares them with the llamafactory environment where it is built.
After a pin change, print them afresh with
``python -m lancekit.training.llamafactory_names <that environment's site-packages>``.
"""

from __future__ import annotations

import ast
import difflib
import sys
import textwrap
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from .config import RUN_KEYS
from .settings import OVERLAY_KEY

TEMPLATES = frozenset("""
    aeva alpaca bailing bailing_v2 breeze chatglm3 chatml chatml_de cohere cpm4 dbrx deepseek deepseek3
    deepseekcoder deepseekr1 default dots_ocr empty ernie ernie_nothink ernie_vl exaone falcon falcon_h1
    fewshot gemma gemma2 gemma3 gemma3n gemma4 gemma4n glm4 glm4_5v glm4_7 glm4_moe glm4v glm_ocr glmz1
    gpt_oss granite3 granite3_vision granite4 hunyuan hunyuan_small hy3 index intern2 intern_s1 intern_vl
    keye_vl kimi_vl lfm2 lfm2_vl llama2 llama2_zh llama3 llama4 llava llava_next llava_next_llama3
    llava_next_mistral llava_next_qwen llava_next_video llava_next_video_mistral llava_next_video_yi
    llava_next_yi mimo mimo_v2 mimo_vl minicpm_o minicpm_v minicpm_v_4_6 minimax1 minimax2 ministral
    ministral3 mistral mistral_small mllama moonlight olmo openchat openchat-3.6 opencoder paligemma
    paligemma_chat phi phi4 phi4_mini phi_small pixtral qwen qwen2_audio qwen2_omni qwen2_vl qwen3 qwen3_5
    qwen3_5_nothink qwen3_6 qwen3_nothink qwen3_omni qwen3_omni_nothink qwen3_vl qwen3_vl_nothink sailor
    seed_coder seed_oss smollm smollm2 solar starchat telechat2 vicuna video_llava xuanyuan yi yi_vl youtu
    youtu_vl yuan zephyr
""".split())

ARGUMENTS = frozenset("""
    accelerator_config adam_beta1 adam_beta2 adam_epsilon adapter_folder adapter_name_or_path
    add_special_tokens add_tokens additional_target apollo_layerwise apollo_proj apollo_proj_type apollo_rank
    apollo_scale apollo_scale_front apollo_scale_type apollo_target apollo_update_interval asft_alpha
    audio_sampling_rate auto_find_batch_size average_tokens_across_devices badam_mask_mode badam_mode
    badam_start_block badam_switch_interval badam_switch_mode badam_update_ratio badam_verbose
    batch_eval_metrics bf16 bf16_full_eval buffer_size cache_dir compute_accuracy create_new_adapter
    crop_to_patches cutoff_len data_seed data_shared_file_system dataloader_drop_last dataloader_num_workers
    dataloader_persistent_workers dataloader_pin_memory dataloader_prefetch_factor dataset dataset_dir
    ddp_backend ddp_broadcast_buffers ddp_bucket_cap_mb ddp_find_unused_parameters ddp_static_graph
    ddp_timeout debug deepspeed default_system disable_gradient_checkpointing disable_shuffling disable_tqdm
    do_eval do_predict do_sample do_train double_quantization dpo_label_smoothing eaft_alpha
    early_stopping_steps enable_jit_checkpoint enable_liger_kernel enable_thinking enable_torch_profiler
    eval_accumulation_steps eval_dataset eval_delay eval_do_concat_batches eval_num_beams eval_on_each_dataset
    eval_on_start eval_steps eval_strategy eval_use_gather_object export_device export_dir export_hub_model_id
    export_legacy_format export_quantization_bit export_quantization_dataset export_quantization_maxlen
    export_quantization_nsamples export_size finetuning_type flash_attn fp16 fp16_full_eval fp8 fp8_backend
    fp8_enable_fsdp_float8_all_gather freeze_extra_modules freeze_language_model freeze_multi_modal_projector
    freeze_trainable_layers freeze_trainable_modules freeze_vision_tower fsdp fsdp_config full_determinism
    galore_layerwise galore_proj_type galore_rank galore_scale galore_target galore_update_interval
    generation_config generation_max_length generation_num_beams gradient_accumulation_steps
    gradient_checkpointing gradient_checkpointing_kwargs greater_is_better hf_hub_token hub_always_push
    hub_model_id hub_private_repo hub_revision hub_strategy hub_token hyper_parallel_args ignore_data_skip
    ignore_pad_token_for_loss image_do_pan_and_scan image_max_pixels image_min_pixels
    include_effective_tokens_per_second include_for_metrics include_num_input_tokens_seen infer_backend
    infer_dtype init_special_tokens interleave_probs kt_expert_checkpoint_path
    kt_lora_expert_intermediate_size kt_lora_expert_num kt_use_lora_experts kt_weight_path kto_chosen_weight
    kto_rejected_weight label_names label_smoothing_factor ld_alpha learning_rate length_column_name
    length_penalty liger_kernel_config load_best_model_at_end local_rank log_level log_level_replica
    log_on_each_node logging_dir logging_first_step logging_nan_inf_filter logging_steps logging_strategy
    lora_alpha lora_dropout lora_rank lora_target loraplus_lr_embedding loraplus_lr_ratio low_cpu_mem_usage
    lr_scheduler_kwargs lr_scheduler_type mask_history master_addr master_port max_grad_norm max_length
    max_new_tokens max_samples max_steps media_dir metric_for_best_model mix_strategy mixture_of_depths
    model_name_or_path model_revision module_dropout moe_aux_loss_coef ms_hub_token neat_packing
    neftune_noise_alpha new_special_tokens_config num_beams num_train_epochs offload_folder oft_block_size
    oft_rank oft_target om_hub_token optim optim_args optim_target_modules output_dir overwrite_cache
    overwrite_output_dir packing parallelism_config per_device_eval_batch_size per_device_train_batch_size
    pissa_convert pissa_init pissa_iter plot_loss ppo_buffer_size ppo_epochs ppo_score_norm ppo_target
    ppo_whiten_rewards predict_with_generate prediction_loss_only pref_bco_weight pref_beta pref_ftx pref_loss
    preprocessing_batch_size preprocessing_num_workers preserve_thinking print_param_status profile_modules
    profiler_active_steps profiler_output_dir profiler_profile_memory profiler_record_shapes profiler_repeat
    profiler_wait_steps profiler_warmup_steps profiler_with_stack project pure_bf16 push_to_hub
    quantization_bit quantization_device_map quantization_method quantization_type ray_init_kwargs
    ray_num_workers ref_model ref_model_adapters ref_model_quantization_bit remove_unused_columns
    repetition_penalty report_to resize_vocab restore_callback_states_from_checkpoint resume_from_checkpoint
    reward_model reward_model_adapters reward_model_quantization_bit reward_model_type rope_scaling run_name
    save_on_each_node save_only_model save_steps save_strategy save_total_limit seed sglang_config
    sglang_lora_backend sglang_maxlen sglang_mem_fraction sglang_tp_size shift_attn simpo_gamma
    skip_memory_metrics skip_special_tokens sortish_sampler split_special_tokens stage streaming
    swanlab_api_key swanlab_lark_secret swanlab_lark_webhook_url swanlab_logdir swanlab_mode swanlab_project
    swanlab_run_name swanlab_workspace temperature template tf32 tokenized_path tool_format top_k top_p
    torch_compile torch_compile_backend torch_compile_mode torch_empty_cache_steps trackio_bucket_id
    trackio_space_id trackio_static_space_id train_from_scratch train_on_prompt train_sampling_strategy
    trust_remote_code upcast_layernorm upcast_lmhead_output use_adam_mini use_apollo use_asft_loss
    use_audio_in_video use_badam use_cache use_cpu use_dft_loss use_dora use_eaft_loss use_fast_tokenizer
    use_galore use_hyper_parallel use_kt use_kv_cache use_liger_kernel use_llama_pro use_mca use_muon
    use_reentrant_gc use_rslora use_swanlab use_unsloth use_unsloth_gc use_v1_kernels val_size video_fps
    video_max_pixels video_maxlen video_min_pixels vllm_config vllm_enforce_eager vllm_gpu_util
    vllm_max_lora_rank vllm_maxlen warmup_ratio warmup_steps weight_decay
""".split())

# the dataclasses get_train_args parses (llamafactory/hparams/parser.py, _TRAIN_ARGS)
TRAIN_ARGUMENT_CLASSES = ("ModelArguments", "DataArguments", "TrainingArguments", "FinetuningArguments",
                          "GeneratingArguments")
# where they and their bases are defined: LLaMA-Factory's modules, then transformers'
LLAMAFACTORY_FILES = tuple(f"llamafactory/hparams/{m}.py" for m in (
    "model_args", "data_args", "training_args", "finetuning_args", "generating_args"))
TRANSFORMERS_FILES = ("transformers/training_args.py", "transformers/training_args_seq2seq.py")
TEMPLATE_FILE = "llamafactory/data/template.py"


def suggestion(name: str, known: Iterable[str]) -> str:
    """" (did you mean X?)" for the known name closest to a misspelt one, else ""."""
    close = difflib.get_close_matches(name, sorted(known), n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def train_blocks(train: Mapping) -> Iterator[tuple[str, Mapping]]:
    """Every block of ``train`` that may set training options, with its config key: train itself,
    its sft/dpo blocks, each train.methods.<method> block, its from_iteration.<N> blocks and their
    sft/dpo blocks."""
    def with_stages(key, block):
        if isinstance(block, Mapping):
            yield key, block
            for stage in ("sft", "dpo"):
                if isinstance(block.get(stage), Mapping):
                    yield f"{key}.{stage}", block[stage]

    yield from with_stages("train", train)
    for method, block in (train.get("methods") or {}).items():
        if not isinstance(block, Mapping):
            continue
        yield from with_stages(f"train.methods.{method}", block)
        layers = block.get(OVERLAY_KEY)
        for n, layer in (layers.items() if isinstance(layers, Mapping) else ()):
            yield from with_stages(f"train.methods.{method}.{OVERLAY_KEY}.{n}", layer)


def extra_problems(train: Mapping) -> list[str]:
    """The keys of every train ``extra`` block: each an argument `llamafactory-cli train` parses
    (it stops on any other), none of those lance sets itself; a template set there is a known one."""
    problems = []
    for key, block in train_blocks(train):
        extra = block.get("extra")
        for name, value in (extra.items() if isinstance(extra, Mapping) else ()):
            if name in RUN_KEYS:
                problems.append(f"{key}.extra.{name}: lance sets {name} itself")
            elif name not in ARGUMENTS:
                problems.append(f"{key}.extra.{name}: not an argument of LLaMA-Factory"
                                f"{suggestion(str(name), ARGUMENTS)}; its arguments: "
                                "lancekit.training.llamafactory_names.ARGUMENTS")
            elif name == "template" and not (isinstance(value, str) and value in TEMPLATES):
                problems.append(f"{key}.extra.template: {value!r} is no chat template of LLaMA-Factory"
                                f"{suggestion(str(value), TEMPLATES)}")
    return problems


def template_names(source: str) -> set[str]:
    """The names of every ``register_template(...)`` call of template.py's source."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "register_template":
            arg = {k.arg: k.value for k in node.keywords}.get("name") or (node.args[0] if node.args else None)
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                names.add(arg.value)
    return names


def _namespace(sources: Iterable[str]) -> tuple[dict[str, ast.ClassDef], dict[str, list[str]]]:
    """The classes of some modules by name, and their module-level aliases (``A = B``)."""
    classes, aliases = {}, {}
    for source in sources:
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ClassDef):
                classes[node.name] = node
            elif (isinstance(node, ast.Assign) and isinstance(node.value, ast.Name) and len(node.targets) == 1
                  and isinstance(node.targets[0], ast.Name)):
                aliases.setdefault(node.targets[0].id, []).append(node.value.id)
    return classes, aliases


def _init_fields(cls: ast.ClassDef) -> Iterable[str]:
    """A dataclass's own fields that its __init__ takes (HfArgumentParser reads only those)."""
    for stmt in cls.body:
        if not (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)):
            continue
        if "ClassVar" in ast.unparse(stmt.annotation):
            continue
        if isinstance(stmt.value, ast.Call) and any(
                k.arg == "init" and isinstance(k.value, ast.Constant) and k.value.value is False
                for k in stmt.value.keywords):
            continue
        yield stmt.target.id


def argument_names(*packages: Iterable[str]) -> set[str]:
    """The init fields of TRAIN_ARGUMENT_CLASSES and all their bases; ``packages``: the sources of
    each package's modules, the first first (a base class is looked up in its own package, then
    in the ones after it: LLaMA-Factory's TrainingArguments extends transformers')."""
    spaces = [_namespace(p) for p in packages]
    names: set[str] = set()
    seen: set[tuple[int, str]] = set()

    def visit(name: str, level: int) -> None:
        candidates = (name, *spaces[level][1].get(name, ()))
        for i in range(level, len(spaces)):
            for n in candidates:
                if n in spaces[i][0]:
                    if (i, n) not in seen:
                        seen.add((i, n))
                        names.update(_init_fields(spaces[i][0][n]))
                        for base in spaces[i][0][n].bases:
                            if isinstance(base, ast.Name):
                                visit(base.id, i)
                    return

    for root in TRAIN_ARGUMENT_CLASSES:
        visit(root, 0)
    return names


def installed_names(site_packages: Path) -> tuple[set[str], set[str]]:
    """(templates, arguments) of the LLaMA-Factory and transformers installed in ``site_packages``."""
    def read(files):
        return [(site_packages / f).read_text(encoding="utf-8") for f in files]

    return (template_names((site_packages / TEMPLATE_FILE).read_text(encoding="utf-8")),
            argument_names(read(LLAMAFACTORY_FILES), read(TRANSFORMERS_FILES)))


def _block(names: Iterable[str]) -> str:
    return textwrap.fill(" ".join(sorted(names)), 110, initial_indent="    ", subsequent_indent="    ",
                         break_long_words=False, break_on_hyphens=False)


if __name__ == "__main__":
    templates, arguments = installed_names(Path(sys.argv[1]))
    print(f"TEMPLATES:\n{_block(templates)}\n\nARGUMENTS:\n{_block(arguments)}")
