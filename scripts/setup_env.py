"""Create the pinned environment(s) if missing; print their pythons.

    PYTHONPATH=src python3 scripts/setup_env.py main vllm llamafactory opencompass
    PYTHONPATH=src python3 scripts/setup_env.py --print-path vllm
"""

import argparse
import sys

from lancekit.core import envs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("environments", nargs="+", choices=envs.ENVIRONMENTS)
    ap.add_argument("--print-path", action="store_true",
                    help="only print where the environment lives; build nothing")
    args = ap.parse_args()
    for name in args.environments:
        try:
            print(envs.python_of(name) if args.print_path else envs.ensure(name))
        except envs.EnvError as e:
            sys.exit(f"setup_env: {e}")


if __name__ == "__main__":
    main()
