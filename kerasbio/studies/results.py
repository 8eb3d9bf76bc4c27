"""Tables of a study run: `results.csv` (a row per trial), `histories.csv` (a row per epoch).

Both are read from the keras-tuner project's trial files, so they can be rebuilt at any time
(after an interruption, or from a distributed search's chief directory).
"""

import glob
import json
import os

import numpy as np
import pandas as pd

from kerasbio.studies.tuner import HISTORY_PREFIX, error_line, project_directory

RESULTS = "results.csv"
HISTORIES = "histories.csv"


def read_trials(search_directory):
    """The trial states (dicts, as keras-tuner saves them) of a project, in trial order."""
    states = []
    for path in sorted(glob.glob(os.path.join(search_directory, "trial_*", "trial.json"))):
        with open(path) as file:
            states.append(json.load(file))
    return states


def _observations(state):
    """`{metric name: [(step, value), ...]}` of a saved trial state."""
    metrics = state.get("metrics", {}).get("metrics", {})
    return {name: [(observation["step"], float(np.mean(observation["value"])))
                   for observation in history["observations"]]
            for name, history in metrics.items()}


def results_table(states, axes):
    """One row per trial: id, every axis, every final metric, status, error, seconds."""
    rows = []
    for state in states:
        values = state["hyperparameters"]["values"]
        metrics = {name: observations[-1][1] for name, observations in
                   _observations(state).items() if not name.startswith(HISTORY_PREFIX)}
        rows.append({"trial_id": state["trial_id"], **{axis: values.get(axis) for axis in axes},
                     **{name: value for name, value in metrics.items() if name != "seconds"},
                     "status": state["status"], "error": error_line(state.get("message")),
                     "seconds": metrics.get("seconds", np.nan)})
    table = pd.DataFrame(rows)
    if table.empty:
        return pd.DataFrame(columns=["trial_id", *axes, "status", "error", "seconds"])
    ordered = ["trial_id", *axes]
    metrics = [column for column in table.columns
               if column not in ordered and column not in ("status", "error", "seconds")]
    return table[ordered + sorted(metrics) + ["status", "error", "seconds"]]


def histories_table(states):
    """One row per trial and epoch: trial id, epoch (from 1), every logged quantity."""
    rows = {}
    for state in states:
        for name, observations in _observations(state).items():
            if not name.startswith(HISTORY_PREFIX):
                continue
            for step, value in observations:
                row = rows.setdefault((state["trial_id"], step),
                                      {"trial_id": state["trial_id"], "epoch": step + 1})
                row[name[len(HISTORY_PREFIX):]] = value
    return pd.DataFrame([rows[key] for key in sorted(rows)],
                        columns=None if rows else ["trial_id", "epoch"])


def write_tables(out, axes):
    """Write `results.csv` and `histories.csv` from `out/search`; return both tables.

    `axes` are the grid's hyperparameter names, in the order of the columns.
    """
    states = read_trials(project_directory(out))
    results, histories = results_table(states, axes), histories_table(states)
    results.to_csv(os.path.join(out, RESULTS), index=False)
    histories.to_csv(os.path.join(out, HISTORIES), index=False)
    return results, histories


def read_tables(out):
    """`results.csv` and `histories.csv` of a run directory (trial ids kept as strings)."""
    results = pd.read_csv(os.path.join(out, RESULTS), dtype={"trial_id": str},
                          keep_default_na=False, na_values=[""])
    histories = pd.read_csv(os.path.join(out, HISTORIES), dtype={"trial_id": str})
    return results, histories


def mean_sd(table, by, columns):
    """Mean and sd over seeds of completed trials: one row per cell, `<col>` and `<col>_sd`."""
    done = table[table["status"] == "COMPLETED"]
    if done.empty:
        return pd.DataFrame(columns=[*by, "seeds"])
    grouped = done.groupby(list(by), sort=True)
    summary = grouped[list(columns)].mean()
    spread = grouped[list(columns)].std(ddof=1).fillna(0.0).add_suffix("_sd")
    counts = grouped.size().rename("seeds")
    return pd.concat([summary, spread, counts], axis=1).reset_index()


def format_mean_sd(summary, by, columns, digits=3):
    """A markdown table of `mean +- sd (n seeds)` for each cell of `summary`."""
    header = [*by, *columns, "seeds"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for _, row in summary.iterrows():
        cells = [str(row[axis]) for axis in by]
        cells += [f"{row[c]:.{digits}f} ± {row[c + '_sd']:.{digits}f}" for c in columns]
        lines.append("| " + " | ".join(cells + [str(int(row["seeds"]))]) + " |")
    return "\n".join(lines)
