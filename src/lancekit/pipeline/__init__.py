"""What the workflow calls while Snakemake parses it, before any job runs: the config checks the
schema cannot express (`config_check`), the environment every job runs with (`environ`), and the
launcher behind ./lance (`launcher`).

May import: every other lancekit package.
"""
