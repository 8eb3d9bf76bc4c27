"""`kerasbio study ...` and `kerasbio report DIR`. Imports nothing heavy until a handler runs."""

import argparse
import os

from kerasbio.studies import STRATEGIES, STUDIES


def configure_study(parser):
    """`kerasbio study list` and `kerasbio study NAME [options]`, one sub-command per study."""
    studies = parser.add_subparsers(dest="study", metavar="{list," + ",".join(STUDIES) + "}")
    listing = studies.add_parser("list", help="list the studies")
    listing.set_defaults(handler=_list_studies)
    for name in STUDIES:
        _add_study_arguments(studies.add_parser(name, help=f"run the {name} study"), name)
    parser.set_defaults(handler=lambda args: (parser.print_help(), 0)[1])


def _add_study_arguments(parser, name):
    parser.add_argument("--quick", action="store_true",
                        help="bundled digits, small network, thinned grid (minutes on a CPU)")
    parser.add_argument("--experiment", default="all", type=_experiment,
                        help="experiment number to run, or 'all' (default)")
    parser.add_argument("--dataset", help="data set name for kerasbio.data.load")
    parser.add_argument("--data-dir", help="TFDS data directory (default: TFDS' own)")
    parser.add_argument("--out", help=f"output directory (default: runs/{name}[-quick])")
    parser.add_argument("--epochs", type=_positive_int, help="epochs per trial")
    parser.add_argument("--seeds", type=_positive_int, help="seeds per cell (each a trial)")
    parser.add_argument("--strategy", default="default", choices=STRATEGIES,
                        help="tf.distribute strategy (batch size is global)")
    parser.add_argument("--overwrite", action="store_true", help="delete --out and start afresh")
    parser.add_argument("--verbose", action="store_true", help="Keras' per-epoch output")
    if name == "rdl":
        parser.add_argument("--targets", metavar="FILE.npz",
                            help="RDL toward fixed (e.g. brain) RDMs instead of a teacher; format: "
                                 "kerasbio.studies.rdl_data.load_targets")
    parser.set_defaults(handler=_run_study, study=name)


def _experiment(text):
    return text if text == "all" else _positive_int(text)


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, received {text!r}")
    return value


def configure_report(parser):
    """`kerasbio report DIR`: rebuild a run's tables, figures and report.md."""
    parser.add_argument("directory", metavar="DIR", help="the --out directory of a study run")
    parser.set_defaults(handler=_report)


def _list_studies(args):
    from kerasbio.studies import get_study

    for name in STUDIES:
        study = get_study(name)
        print(f"{name:<12} {study.title}")
        for number, description in study.experiments.items():
            print(f"{'':<12}   experiment {number}: {description}")
    return 0


def _run_study(args):
    from kerasbio.studies import get_study
    from kerasbio.studies.report import findings_table
    from kerasbio.studies.runner import run_study

    study = get_study(args.study)
    if args.experiment != "all" and args.experiment not in study.experiments:
        print(f"kerasbio study {args.study}: no experiment {args.experiment}; choose from "
              f"{sorted(study.experiments)} or 'all'.")
        return 2
    experiments = None if args.experiment == "all" else (args.experiment,)
    settings = study.settings(quick=args.quick, experiments=experiments, dataset=args.dataset,
                              data_dir=args.data_dir, epochs=args.epochs, seeds=args.seeds,
                              **({"targets": args.targets} if getattr(args, "targets", None)
                                 else {}))
    out = args.out or os.path.join("runs", f"{args.study}{'-quick' if args.quick else ''}")
    try:
        results = run_study(study, settings, out, strategy=args.strategy,
                            overwrite=args.overwrite, verbose=int(args.verbose))
    except (FileNotFoundError, ValueError) as error:
        print(f"kerasbio study {args.study}: {error}")
        return 2
    done = results[results["status"] == "COMPLETED"]
    print(f"\nReport: {os.path.join(out, 'report.md')}\n")
    print(findings_table(study.findings(settings, done)) if len(done) else "No completed trials.")
    return 0


def _report(args):
    from kerasbio.studies.report import rebuild_report

    try:
        rebuild_report(args.directory)
    except FileNotFoundError as error:
        print(f"kerasbio report: {error}")
        return 2
    return 0
