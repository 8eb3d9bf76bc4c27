"""`kerasbio study ...` and `kerasbio report DIR`. Imports nothing heavy until a handler runs."""

import os

from kerasbio._core.arguments import positive_float, positive_int
from kerasbio.studies import STRATEGIES, STUDIES

# Options of one study only: study -> [(flag, argparse keywords)], passed to its `settings`.
STUDY_OPTIONS = {
    "readout": [("--confidence", {"metavar": "FILE.csv", "help": "human confidence per image "
                                  "(columns image, set, label, confidence; see the README)"})],
    "rdl": [("--targets", {"metavar": "FILE.npz", "help": "RDL toward fixed (e.g. brain) RDMs "
                           "instead of a teacher (format: see the README)"})],
}


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
    parser.add_argument("--epochs", type=positive_int, help="epochs per trial")
    parser.add_argument("--seeds", type=positive_int, help="seeds per cell (each a trial)")
    parser.add_argument("--strategy", default="default", choices=STRATEGIES,
                        help="tf.distribute strategy (batch size is global)")
    parser.add_argument("--overwrite", action="store_true", help="delete --out and start afresh")
    parser.add_argument("--verbose", action="store_true", help="Keras' per-epoch output")
    parser.add_argument("--export", nargs="?", const=10, type=positive_int, metavar="SAMPLES",
                        help="export each condition's best model as a SavedModel to OUT/models "
                             "(mc_predict with SAMPLES draws, default 10)")
    for flag, options in STUDY_OPTIONS.get(name, ()):
        parser.add_argument(flag, **options)
    _add_distributed_arguments(parser)
    parser.set_defaults(handler=_run_study, study=name)


def _add_distributed_arguments(parser):
    group = parser.add_argument_group(
        "distributed study (keras-tuner's chief and workers, sharing --out)")
    group.add_argument("--distributed", choices=("chief", "worker"),
                       help="serve the grid to workers (chief) or run its trials (worker)")
    group.add_argument("--oracle", metavar="HOST:PORT",
                       help="the chief's address (default: $KERASTUNER_ORACLE_IP:PORT)")
    group.add_argument("--tuner-id", metavar="ID",
                       help="a worker's name, unique, the same on restart "
                            "(default: $KERASTUNER_TUNER_ID)")
    group.add_argument("--connect-timeout", type=positive_float, default=60.0, metavar="S",
                       help="seconds a worker waits for the chief (default: 60)")
    parser.add_argument("--gpus", metavar="I,J",
                        help="GPUs to use, by index (default: all visible); memory growth on")


def _study_options(args):
    """The values of the study's own options (`STUDY_OPTIONS`), as `settings` keywords."""
    names = [flag[2:].replace("-", "_") for flag, _ in STUDY_OPTIONS.get(args.study, ())]
    return {name: getattr(args, name) for name in names}


def _experiment(text):
    return text if text == "all" else positive_int(text)




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
    out = args.out or os.path.join("runs", f"{args.study}{'-quick' if args.quick else ''}")
    try:
        settings = study.settings(quick=args.quick, experiments=experiments, dataset=args.dataset,
                                  data_dir=args.data_dir, epochs=args.epochs, seeds=args.seeds,
                                  **_study_options(args))
        results = run_study(study, settings, out, strategy=args.strategy,
                            overwrite=args.overwrite, verbose=int(args.verbose),
                            distribution=_distribution(args), gpus=args.gpus,
                            export_samples=args.export)
    except (ValueError, OSError) as error:
        print(f"kerasbio study {args.study}: {error}")
        return 2
    if results is None:  # a worker: the chief writes the report
        return 0
    done = results[results["status"] == "COMPLETED"]
    print(f"\nReport: {os.path.join(out, 'report.md')}\n")
    print(findings_table(study.findings(settings, done)) if len(done) else "No completed trials.")
    return 0


def _distribution(args):
    from kerasbio.studies.distributed import Distribution

    role = args.distributed
    if role is None and "KERASTUNER_ORACLE_IP" in os.environ:  # keras-tuner's own launch
        role = "chief" if "chief" in os.environ.get("KERASTUNER_TUNER_ID", "") else "worker"
    if role is None:
        if args.oracle or args.tuner_id:
            raise ValueError("--oracle and --tuner-id need --distributed chief|worker.")
        return None
    return Distribution.from_environment(role, args.oracle, args.tuner_id, args.connect_timeout)


def _report(args):
    from kerasbio.studies.report import rebuild_report

    try:
        rebuild_report(args.directory)
    except FileNotFoundError as error:
        print(f"kerasbio report: {error}")
        return 2
    return 0
