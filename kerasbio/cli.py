"""`kerasbio` console entry point: a registry of sub-commands.

`COMMANDS` maps a sub-command to `("module:configure_function", "one-line help")`. The configure
function adds the sub-command's arguments and sets `handler` (a function of the parsed arguments
returning the exit code) with `parser.set_defaults`. Configure functions import nothing heavy, so
`kerasbio --version` and `--help` answer without loading TensorFlow; TF's C++ logging is quiet
unless `TF_CPP_MIN_LOG_LEVEL` is set.
"""

import argparse
import importlib
import os
import sys

import kerasbio

COMMANDS = {
    "bench": ("kerasbio.bench.command:configure",
              "time kerasbio against reference implementations (ratios)"),
    "study": ("kerasbio.studies.command:configure_study", "run a published study"),
    "report": ("kerasbio.studies.command:configure_report",
               "rebuild a study run's figures and report.md from its results"),
    "export": ("kerasbio.export_command:configure",
               "write a .keras model as a SavedModel with serve and mc_predict endpoints"),
}


def build_parser():
    parser = argparse.ArgumentParser(prog="kerasbio", description=kerasbio.__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"kerasbio {kerasbio.__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (target, help_text) in COMMANDS.items():
        module, function = target.split(":")
        configure = getattr(importlib.import_module(module), function)
        configure(commands.add_parser(name, help=help_text, description=help_text))
    return parser


def main(argv=None):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
