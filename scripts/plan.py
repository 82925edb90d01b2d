"""plan: what a run will cost before it starts (``./lance plan [--configfile FILE ...] [--config
KEY=VALUE ...] [--device NAME]``): per method, iteration and stage the requests, prompt and output
tokens, training examples or evaluation items, wall time and GPU-hours, then the totals. The config
is loaded as the workflow loads it; the numbers are lancekit.pipeline.plan's model over
config/cost/throughput.yaml."""

import argparse
import sys

from lancekit.pipeline import plan


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="./lance plan", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--configfile", "--configfiles", nargs="+", default=[], help="config files over config/config.yaml")
    ap.add_argument("--config", "-C", nargs="+", default=[], help="KEY=VALUE overrides, as Snakemake's")
    ap.add_argument("--device", default=None, help="an entry of config/cost/throughput.yaml (default: budget.device)")
    args = ap.parse_args(argv)
    config = plan.load_config(args.configfile, args.config)
    device = args.device or config["budget"]["device"]
    count, source = plan.seed_size(config)
    try:
        rows = plan.plan(config, device, seed=count)
    except KeyError as e:
        print(f"plan: {e.args[0]}", file=sys.stderr)
        return 2
    print(f"seed: {count} records ({source})")
    print(plan.table_text(rows, device))
    return 0


if __name__ == "__main__":
    sys.exit(main())
