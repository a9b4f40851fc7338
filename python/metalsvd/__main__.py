"""Command line: `python -m metalsvd demo [--device DEVICE]`."""

import argparse
import sys


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m metalsvd")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="factor example batches, check them against LAPACK")
    demo.add_argument("--device", default=None, help="mps, cuda or cpu (default: the best present)")
    args = parser.parse_args(argv)
    if args.command == "demo":
        from .demo import run

        return run(args.device)
    return 2


if __name__ == "__main__":
    sys.exit(main())
