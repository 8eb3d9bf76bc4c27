"""`kerasbio study NAME --export`: each condition's best model as a SavedModel.

A condition is a grid cell without its seed (its seeds are repeats of one condition); its best
model is that of the completed trial with the best value of the study's objective. With
`--export`, every trial saves its trained model, and after the search the run directory holds:

    models/index.csv                  a row per condition: its axes, the chosen trial and seed,
                                      the objective's value and the SavedModel's directory
    models/<axis>-<value>_.../        the condition's SavedModel (`kerasbio.export_saved_model`:
                                      endpoints `serve` and `mc_predict`)
    search/trial_<id>/model.keras     the trained model of each condition's best trial (the
                                      other trials' models are deleted once exported)
"""

import math
import os
import re

from kerasbio.studies.tuner import project_directory, trial_model_path

MODELS = "models"
INDEX = "index.csv"


def condition_name(condition):
    """A directory name for a condition (`{axis: value}`): `experiment-1_noise_std-0.3`."""
    return "_".join(f"{axis}-{re.sub(r'[^A-Za-z0-9.+-]', '-', str(value))}"
                    for axis, value in condition.items())


def best_trials(results, axes, objective):
    """`[(condition, row)]`: each condition's completed trial with the best objective.

    Args:
        results: The results table (a row per trial; `results.csv`).
        axes: The study's axes; every one but `"seed"` names the condition.
        objective: A `keras_tuner.Objective` (its `name` is a results column).
    """
    condition_axes = [axis for axis in axes if axis != "seed"]
    if objective.name not in results.columns:
        return []
    best = {}
    for _, row in results[results["status"] == "COMPLETED"].iterrows():
        value = float(row[objective.name])
        if not math.isfinite(value):
            continue
        key = tuple(row[axis] for axis in condition_axes)
        if key not in best or objective.better_than(value, float(best[key][objective.name])):
            best[key] = row
    return [(dict(zip(condition_axes, key)), row) for key, row in best.items()]


def export_best_models(study, out, results, samples, echo=print):
    """Export the best model of every condition of a finished run into `out/models/`.

    Returns:
        The index (a `pandas.DataFrame`, a row per exported condition), also written as
        `models/index.csv`.
    """
    import keras
    import pandas as pd

    from kerasbio.export import export_saved_model

    chosen = best_trials(results, study.axes, study.objective)
    rows, missing = [], []
    for condition, row in chosen:
        source = trial_model_path(os.path.join(project_directory(out), f"trial_{row['trial_id']}"))
        if not os.path.exists(source):
            missing.append(str(row["trial_id"]))
            continue
        target = os.path.join(MODELS, condition_name(condition))
        model = keras.saving.load_model(source, compile=False)
        export_saved_model(model, os.path.join(out, target), samples=samples, verbose=False)
        rows.append({**condition, "trial_id": row["trial_id"], "seed": row.get("seed"),
                     study.objective.name: row[study.objective.name], "path": target})
    if missing:
        echo(f"No saved model for trials {', '.join(missing)} (they ran without --export): "
             f"run the study again with --overwrite --export to export them.")
    _delete_other_trial_models(out, {str(row["trial_id"]) for _, row in chosen})
    columns = [axis for axis in study.axes if axis != "seed"] + [
        "trial_id", "seed", study.objective.name, "path"]
    index = pd.DataFrame(rows, columns=columns)
    os.makedirs(os.path.join(out, MODELS), exist_ok=True)
    index.to_csv(os.path.join(out, MODELS, INDEX), index=False)
    echo(f"Exported {len(rows)} of {len(chosen)} conditions' best models to "
         f"{os.path.join(out, MODELS)} ({samples} MC draws per example).")
    return index


def _delete_other_trial_models(out, kept_trial_ids):
    search = project_directory(out)
    for entry in os.listdir(search):
        path = trial_model_path(os.path.join(search, entry))
        if entry.startswith("trial_") and entry[len("trial_"):] not in kept_trial_ids \
                and os.path.exists(path):
            os.remove(path)
