"""Command line: `python -m metalsvd demo|selftest [--device DEVICE]`."""

import argparse
import sys

import torch


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m metalsvd")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="factor example batches, check them against LAPACK")
    demo.add_argument("--device", default=None, help="mps, cuda or cpu (default: the best present)")
    selftest = commands.add_parser(
        "selftest", help="check every algorithm against LAPACK; paste the output into bug reports"
    )
    selftest.add_argument("--device", default=None, help="mps, cuda or cpu (default: the best present)")
    args = parser.parse_args(argv)
    if args.device is not None:
        from ._devices import built_backends

        try:
            device = torch.device(args.device)
        except RuntimeError:
            parser.error(f"--device: not a device: {args.device!r}")
        if device.type not in built_backends():
            parser.error(f"--device: this build has no {device.type} backend "
                         f"(built: {', '.join(built_backends())})")
    if args.command == "demo":
        from .demo import run
    else:
        from .selftest import run
    return run(args.device)


if __name__ == "__main__":
    sys.exit(main())
