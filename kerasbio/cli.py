"""`kerasbio` console entry point: `kerasbio --version`, `kerasbio bench [NAME ...]`,
`kerasbio study ...`, `kerasbio report DIR`."""

import argparse
import importlib
import sys

# name -> ("module:configure function", one-line help); the function adds the sub-command's
# arguments and sets `handler` (args -> exit code). Configure functions import nothing heavy.
COMMANDS = {
    "study": ("kerasbio.studies.command:configure_study", "run a published study"),
    "report": ("kerasbio.studies.command:configure_report",
               "rebuild a study run's figures and report.md from its results"),
}


def build_parser():
    import kerasbio
    from kerasbio.bench import BENCHMARKS

    parser = argparse.ArgumentParser(prog="kerasbio", description=kerasbio.__doc__)
    parser.add_argument("--version", action="version", version=f"kerasbio {kerasbio.__version__}")
    commands = parser.add_subparsers(dest="command")
    bench = commands.add_parser("bench", help="time kerasbio against reference implementations")
    bench.add_argument("names", nargs="*", metavar="NAME",
                       help=f"benchmarks to run (default: all): {', '.join(sorted(BENCHMARKS))}")
    bench.add_argument("--quick", action="store_true", help="fewer repeats")
    for name, (target, help_text) in COMMANDS.items():
        module, function = target.split(":")
        getattr(importlib.import_module(module), function)(
            commands.add_parser(name, help=help_text))
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "bench":
        from kerasbio import bench

        unknown = sorted(set(args.names) - set(bench.BENCHMARKS))
        if unknown:
            parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from "
                         f"{', '.join(sorted(bench.BENCHMARKS))}")
        bench.run(args.names, quick=args.quick)
        return 0
    if getattr(args, "handler", None) is not None:
        return args.handler(args)
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
