"""Create the pinned environment(s) of one or more engines if missing; print their pythons.

    PYTHONPATH=src python3 scripts/setup_env.py main vllm llamafactory opencompass
    PYTHONPATH=src python3 scripts/setup_env.py --print-path vllm
"""

import argparse
import sys

from lancekit import envs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("engines", nargs="+", choices=envs.ENGINES)
    ap.add_argument("--print-path", action="store_true",
                    help="only print where the environment lives; build nothing")
    args = ap.parse_args()
    for engine in args.engines:
        try:
            print(envs.python_of(engine) if args.print_path else envs.ensure(engine))
        except envs.EnvError as e:
            sys.exit(f"setup_env: {e}")


if __name__ == "__main__":
    main()
