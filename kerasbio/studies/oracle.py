"""A keras-tuner oracle that runs a fixed grid once, in order, and survives any interruption.

keras-tuner 1.4.8's `GridSearch` cannot resume a stopped search (keras-tuner issue #1055:
`KeyError` in `_ordered_ids`), and `executions_per_trial` averages seeds away. `GridOracle`
takes the grid as an explicit list of cells (the seed is one of the axes, so each seed is its
own trial); trial `i` is cell `i`. All state lives in the oracle and its JSON files, which are
written atomically, so a search killed at any moment (SIGKILL included) and started again keeps
every finished trial, reruns the interrupted one from scratch, and repeats none. Because the
state is the oracle's, it also serves as the chief's oracle in keras-tuner's distributed mode.
"""

import json
import os

import keras_tuner
from keras_tuner.engine.trial import TrialStatus

FINISHED = (TrialStatus.COMPLETED, TrialStatus.FAILED)


class GridOracle(keras_tuner.Oracle):
    """Enumerates `cells` (dicts of hyperparameter values) once each, in the given order.

    Failed trials (an exception, or `keras_tuner.errors.FailedTrialError`) are recorded with
    their error and never retried; the search goes on however many fail in a row. Metrics may
    be reported before the objective (per-epoch histories, timings).

    Args:
        cells: Non-empty list of dicts with the same keys; values must be JSON scalars.
        objective: The objective (a name or `keras_tuner.Objective`); only used to score trials.
    """

    def __init__(self, cells, objective, **kwargs):
        cells = [dict(cell) for cell in cells]
        _check_cells(cells)
        super().__init__(objective=objective, max_trials=len(cells), seed=0,
                         max_retries_per_trial=0, max_consecutive_failed_trials=len(cells) + 1,
                         **kwargs)
        self.cells = cells
        self.verbose = 0  # the tuner prints one line per trial instead

    def trial_id(self, index):
        """The id of the trial running cell `index` (zero-padded, as keras-tuner numbers them)."""
        return f"{index:0{len(str(self.max_trials))}d}"

    def populate_space(self, trial_id):
        index = int(trial_id)
        if index >= len(self.cells):
            return {"status": TrialStatus.STOPPED, "values": None}
        return {"status": TrialStatus.RUNNING, "values": dict(self.cells[index])}

    def _check_objective_found(self, metrics):
        """Histories and timings are reported without the objective; results must have it."""

    def finished_trials(self):
        return [trial for trial in self.trials.values() if trial.status in FINISHED]

    def is_finished(self):
        return len(self.finished_trials()) == len(self.cells)

    def reload(self):
        """Reload, then rebuild the retry queue from the trials' own files.

        keras-tuner requeues the trials the oracle file lists as ongoing; a kill between
        writing a trial's file and the oracle's would then lose or repeat a trial. Here every
        trial not finished on disk is requeued with its partial metrics cleared, in grid order,
        and no finished trial ever is.
        """
        super().reload()
        self._check_same_grid()
        unfinished = sorted(tid for tid, trial in self.trials.items()
                            if trial.status not in FINISHED)
        for trial_id in unfinished:
            trial = self.trials[trial_id]
            trial.metrics = type(trial.metrics)()
            trial.status = TrialStatus.RUNNING
        self._retry_queue = unfinished[::-1]  # `create_trial` pops from the end
        self.ongoing_trials = {}
        ended = [tid for tid in self.end_order if tid in self.trials
                 and self.trials[tid].status in FINISHED]
        self.end_order = ended + sorted(tid for tid, trial in self.trials.items()
                                        if trial.status in FINISHED and tid not in ended)

    def _check_same_grid(self):
        for trial_id, trial in self.trials.items():
            index = int(trial_id)
            if index >= len(self.cells) or _normalized(trial.hyperparameters.values) != \
                    _normalized(self.cells[index]):
                raise ValueError(
                    f"The search in {self._project_dir!r} ran a different grid (trial "
                    f"{trial_id}: {trial.hyperparameters.values}). Use a new output directory "
                    f"or start afresh (`--overwrite`).")

    def save(self):
        write_json_atomically(self._get_oracle_fname(), self.get_state())

    def _save_trial(self, trial):
        write_json_atomically(
            os.path.join(self._get_trial_dir(trial.trial_id), "trial.json"), trial.get_state())


def write_json_atomically(path, state):
    """Write `state` as JSON to `path` so that a reader sees the old or the new file, whole.

    A killed process leaves either file (the rename is atomic); there is no fsync, so a power
    loss may lose the last writes, which a restart then reruns.
    """
    temporary = f"{path}.tmp"
    with open(temporary, "w") as file:
        json.dump(state, file)
    os.replace(temporary, path)


def _normalized(values):
    return {key: value for key, value in sorted(values.items())}


def _check_cells(cells):
    if not cells:
        raise ValueError("The grid is empty: expected at least one cell.")
    keys = set(cells[0])
    for cell in cells:
        if set(cell) != keys:
            raise ValueError(f"Every cell needs the same axes {sorted(keys)}. Received: {cell}")
        for key, value in cell.items():
            if not isinstance(value, (bool, int, float, str)):
                raise ValueError(f"Cell values must be bool, int, float or str. Received: "
                                 f"{key}={value!r}")
    seen = set()
    for cell in cells:
        frozen = tuple(sorted(cell.items()))
        if frozen in seen:
            raise ValueError(f"The grid repeats the cell {cell}; each cell must appear once.")
        seen.add(frozen)
