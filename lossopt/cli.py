"""The `lossopt` command."""

import argparse
import sys


def _parser():
    parser = argparse.ArgumentParser(
        prog="lossopt",
        description="Losses of maximum-likelihood estimation and their optimizers, "
                    "on a compiled core.")
    from . import __version__
    parser.add_argument("--version", action="version", version=f"lossopt {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("info", help="show the build (compiler, OpenMP, SIMD path) and "
                                "self-check every kernel")
    demo = sub.add_parser("demo", help="run the lecture's claims end to end on bundled data: "
                                       "a table per part, a PNG figure per part")
    demo.add_argument("--out", default="lossopt-demo", metavar="DIR",
                      help="folder for the figures (default: ./lossopt-demo)")
    demo.add_argument("--no-plots", action="store_true", help="print the tables only")
    demo.add_argument("--quick", action="store_true", help="shorter runs, same claims")
    return parser


def main(argv=None):
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "info":
            from ._info import info
            return info()
        if args.command == "demo":
            from .demo import run_demo
            try:
                run_demo(args.out, plots=not args.no_plots, quick=args.quick)
            except OSError as e:       # --out unusable: one line, no traceback
                print(f"lossopt demo: {e}", file=sys.stderr)
                return 1
            return 0
        parser.print_help()
        return 2
    except BrokenPipeError:  # e.g. `lossopt info | head`: stop quietly
        sys.stderr.close()
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
