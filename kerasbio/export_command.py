"""`kerasbio export MODEL.keras DIR --samples N`. Imports nothing heavy until the handler runs."""

import os
import zipfile

from kerasbio._core.arguments import positive_int


def configure(parser):
    """The sub-command's arguments; the handler writes the SavedModel."""
    parser.add_argument("model", metavar="MODEL.keras", help="a model saved with model.save")
    parser.add_argument("directory", metavar="DIR", help="where to write the SavedModel")
    parser.add_argument("--samples", type=positive_int, default=10,
                        help="MC draws per example of the mc_predict endpoint (default 10)")
    parser.add_argument("--from-logits", action="store_true",
                        help="the model outputs logits: softmax each draw before the statistics")
    parser.set_defaults(handler=_export)


def _export(args):
    problem = model_file_problem(args.model)
    if problem:
        print(f"kerasbio export: {problem}")
        return 2
    import keras

    import kerasbio

    try:
        model = keras.saving.load_model(args.model, compile=False)
    except (KeyError, OSError, TypeError, ValueError) as error:
        print(f"kerasbio export: cannot load {args.model} as a Keras model: {error}")
        return 2
    try:
        kerasbio.export_saved_model(model, args.directory, samples=args.samples,
                                    from_logits=args.from_logits, verbose=False)
    except (ValueError, TypeError) as error:
        print(f"kerasbio export: cannot export {args.model}: {error}")
        return 2
    print(f"Wrote {args.directory}: endpoints `serve` and `mc_predict` ({args.samples} draws).")
    return 0


def model_file_problem(path):
    """Why `path` is not a `.keras` model file, or `None` when it looks like one."""
    if not os.path.exists(path):
        return f"no such file: {path}"
    if os.path.isdir(path):
        return (f"{path} is a directory; expected a .keras file (a SavedModel directory is "
                "already exported)")
    if not path.endswith(".keras") or not zipfile.is_zipfile(path):
        return (f"{path} is not a Keras model file: expected a .keras archive written by "
                "model.save('model.keras')")
    return None
