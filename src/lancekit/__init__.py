"""lancekit: the pipeline's own code. The folder tree is the architecture; each subpackage may
import only the ones below it (checked by import-linter, `.importlinter` at the repository root):

    pipeline     what the Snakefile calls at parse time: config checks, the job environment, the launcher
    report       the report's tables, plots and page
    methods      LANCE, its ablations and the baselines: one module each, and the run-key grammar
    generation | training | evaluation
                 one engine each: vLLM (requests in chunks, shards), LLaMA-Factory, OpenCompass
    data         the data stages as pure functions: seeds, records, prompts, judge, review, ROUGE-L, clean
    core         plumbing: file I/O, environments, provenance, statistics, typed settings, the base model

The entry points in scripts/ are thin: they read a job, call into these packages and write files.
"""
