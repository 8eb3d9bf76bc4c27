"""`kerasbio bench [NAME ...] [--quick]`: the benchmarks' sub-command (see `kerasbio.cli`)."""

import sys

from kerasbio.bench import BENCHMARKS


def configure(parser):
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"benchmarks to run (default: all): {', '.join(sorted(BENCHMARKS))}")
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.set_defaults(handler=run, parser=parser)


def run(args):
    unknown = sorted(set(args.names) - set(BENCHMARKS))
    if unknown:
        args.parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from "
                          f"{', '.join(sorted(BENCHMARKS))}")
    from kerasbio import bench

    bench.run(args.names, quick=args.quick, progress=_report_progress)
    return 0


def _report_progress(row):
    print(f"measured {row.name}: ratio {row.ratio:.2f}", file=sys.stderr, flush=True)
