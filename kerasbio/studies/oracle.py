"""A keras-tuner oracle that runs a fixed grid once, in order, and survives any interruption.

keras-tuner 1.4.8's `GridSearch` cannot resume a stopped search (keras-tuner issue #1055:
`KeyError` in `_ordered_ids`), and `executions_per_trial` averages seeds away. `GridOracle`
takes the grid as an explicit list of cells (the seed is one of the axes, so each seed is its
own trial); trial `i` is cell `i`. All state lives in the oracle and its JSON files, which are
written atomically, so a search killed at any moment (SIGKILL included) and started again keeps
every finished trial, reruns the interrupted one from scratch, and repeats none. Because the
state is the oracle's, it also serves as the chief's oracle in keras-tuner's distributed mode
(`kerasbio.studies.distributed`): a worker restarted under its tuner id gets its interrupted
trial back, a restarted chief keeps each running trial with its worker, and a failed trial's
error, which keras-tuner's gRPC messages do not carry, travels in the trial's directory.
"""

import json
import os

import keras_tuner
from keras_tuner.engine.trial import TrialStatus

FINISHED = (TrialStatus.COMPLETED, TrialStatus.FAILED)
ERROR_FILE = "error.txt"


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
        self._assigned = {}
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

    @keras_tuner.synchronized
    def create_trial(self, tuner_id):
        """A new trial, or the trial `tuner_id` was running when it (or the chief) stopped,
        which then starts afresh: its partial metrics are cleared."""
        trial = self.ongoing_trials.get(tuner_id)
        if trial is None:
            return super().create_trial(tuner_id)
        self.tuner_ids.add(tuner_id)
        trial.metrics = type(trial.metrics)()
        self._save_trial(trial)
        return trial

    def update_trial(self, trial_id, metrics, step=0):
        """Record metrics; those of a trial already finished (a late duplicate) are ignored."""
        trial = self._known_trial(trial_id)
        if trial.status in FINISHED:
            return trial
        return super().update_trial(trial_id, metrics, step=step)

    def end_trial(self, trial):
        """End a trial; the first end of a trial counts, a later one is ignored. An error
        message missing from `trial` (a worker's, over gRPC) is read from its directory."""
        known = self._known_trial(trial.trial_id)
        if known is not trial and known.status in FINISHED:
            return
        if trial.message is None:
            trial.message = read_trial_error(self._get_trial_dir(trial.trial_id))
        if trial.trial_id in self._retry_queue:
            self._retry_queue.remove(trial.trial_id)
        super().end_trial(trial)

    def _known_trial(self, trial_id):
        if trial_id not in self.trials:
            raise KeyError(f"Trial {trial_id!r} is not one of this oracle's trials (it has "
                           f"{len(self.trials)} of {len(self.cells)}). Do the chief and the "
                           f"workers run the same study and settings in the same directory?")
        return self.trials[trial_id]

    def finished_trials(self):
        return [trial for trial in self.trials.values() if trial.status in FINISHED]

    def is_finished(self):
        return len(self.finished_trials()) == len(self.cells)

    def _set_project_dir(self, directory, project_name):
        """Attach to a project directory, resuming its search if it holds one (whichever
        tuner attaches the oracle, and whatever its tuner id)."""
        super()._set_project_dir(directory, project_name)
        if os.path.exists(self._get_oracle_fname()):
            self.reload()

    def set_state(self, state):
        super().set_state(state)
        self._assigned = dict(state["ongoing_trials"])  # tuner id -> trial id, as saved

    def reload(self):
        """Reload, then rebuild the running trials and the retry queue from the trials' files.

        keras-tuner requeues the trials the oracle file lists as ongoing; a kill between
        writing a trial's file and the oracle's would then lose or repeat a trial. Here a
        trial not finished on disk stays with the tuner the oracle file assigns it to (that
        tuner, restarted, reruns it; a worker still running it when the chief restarts reports
        it); every other unfinished trial is requeued with its partial metrics cleared, in grid
        order; no finished trial ever is.
        """
        super().reload()
        self._check_same_grid()
        unfinished = sorted(tid for tid, trial in self.trials.items()
                            if trial.status not in FINISHED)
        assigned = {tuner_id: trial_id for tuner_id, trial_id in self._assigned.items()
                    if trial_id in unfinished}
        for trial_id in unfinished:
            trial = self.trials[trial_id]
            if trial_id not in assigned.values():
                trial.metrics = type(trial.metrics)()
            trial.status = TrialStatus.RUNNING
        self._retry_queue = [tid for tid in unfinished if tid not in assigned.values()][::-1]
        self.ongoing_trials = {tuner_id: self.trials[trial_id]
                               for tuner_id, trial_id in assigned.items()}
        self.tuner_ids = set(assigned)
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


def write_trial_error(trial_directory, message):
    """Leave a failed trial's error in its directory, for the chief to record."""
    path = os.path.join(trial_directory, ERROR_FILE)
    with open(f"{path}.tmp", "w") as file:
        file.write(message)
    os.replace(f"{path}.tmp", path)


def read_trial_error(trial_directory):
    """The error a worker left in a trial's directory, or `None`."""
    path = os.path.join(trial_directory, ERROR_FILE)
    if not os.path.exists(path):
        return None
    with open(path) as file:
        return file.read()


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
