"""The RDL study (McClure & Kriegeskorte 2016): McNemar tables from stored counts, the targets
file's checks, RDL's pull on RDMs, and a tiny end-to-end run."""

import os

import keras
import numpy as np
import pandas as pd
import pytest
import scipy.stats
from matplotlib.image import imread

import kerasbio
from kerasbio import rsa
from kerasbio.studies import get_study, run_study
from kerasbio.studies import rdl_report
from kerasbio.studies.rdl import layer_rdms, mean_correlation
from kerasbio.studies.rdl_data import load_targets
from kerasbio.studies.results import read_tables

STUDY = get_study("rdl")


def predictions_with_known_discordance(n=400, seed=0):
    """Labels and three models' predictions: fine-tuning and RDL right far more often than the
    baseline (discordant counts 5 vs 40 and 10 vs 30), fine-tuning vs RDL close."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 5, n)
    wrong = (y + 1) % 5
    correct = {"baseline": np.ones(n, bool), "finetuning": np.ones(n, bool),
               "rdl": np.ones(n, bool)}
    correct["baseline"][:45] = False      # 40 only fine-tuning gets right (+5 fine-tuning misses)
    correct["finetuning"][40:50] = False  # 5 of them the baseline gets right
    correct["rdl"][5:40:2] = False
    correct["rdl"][60:62] = False
    return y, {name: np.where(ok, y, wrong) for name, ok in correct.items()}


def results_from_predictions(y, predictions, seed=0):
    """Result rows as the study's trials store them: each trial's counts against the earlier
    conditions of its seed."""
    rows, names = [], list(predictions)
    for index, name in enumerate(names):
        row = {"trial_id": str(index), "experiment": 1, "condition": name, "seed": seed,
               "status": "COMPLETED", "test_error": float(np.mean(predictions[name] != y))}
        for other in names[:index]:
            right, wrong = kerasbio.stats.discordant_counts(y, predictions[name],
                                                            predictions[other])
            row |= {f"right_only_vs_{other}": right, f"wrong_only_vs_{other}": wrong}
        rows.append(row)
    return pd.DataFrame(rows)


def test_mcnemar_table_from_stored_counts_matches_the_exact_test_on_predictions():
    y, predictions = predictions_with_known_discordance()
    table = rdl_report.mcnemar_table(results_from_predictions(y, predictions), seed=0)
    direct = kerasbio.stats.mcnemar_table(y, predictions)
    direct.index = direct.columns = [rdl_report.LABELS[name] for name in predictions]
    pd.testing.assert_frame_equal(table, direct)
    # Baseline vs fine-tuning: b = 5, c = 40 -> 2 P[Bin(45, 1/2) <= 5], fine-tuning better.
    expected = 2 * scipy.stats.binom.cdf(5, 45, 0.5)
    assert table.loc["baseline", "fine-tuning"] == f"{expected:.2f} ↑"
    assert table.loc["fine-tuning", "baseline"] == f"{expected:.2f} ←"
    assert not {"↑", "←"} & set(table.loc["fine-tuning", "RDL"])


def test_findings_count_significant_seeds_against_the_paper():
    y, predictions = predictions_with_known_discordance()
    results = pd.concat([results_from_predictions(y, predictions, seed) for seed in (0, 1)])
    rows = {f.claim: f for f in rdl_report.findings(STUDY.settings(quick=True), results)}
    assert rows["RDL beats the baseline significantly"].reproduced is True
    assert "2/2 seeds" in rows["fine-tuning beats the baseline significantly"].here


def write_targets(path, n=6, shape=(28, 28, 1), **changes):
    rng = np.random.default_rng(0)
    points = rng.normal(size=(n, 3))
    rdm = ((points[:, None] - points[None]) ** 2).mean(-1)
    contents = {"images": rng.uniform(size=(n, *shape)).astype("float32"),
                "labels": np.arange(n) % 5, "rdm_pool2": rdm, "rdm_act_fc1": rdm}
    contents.update(changes)
    np.savez(path, **{key: value for key, value in contents.items() if value is not None})
    return path


def test_targets_file_is_read_and_checked(tmp_path):
    good = load_targets(write_targets(tmp_path / "good.npz"), (28, 28, 1), classes=5)
    assert sorted(good["rdms"]) == ["act_fc1", "pool2"] and good["images"].shape == (6, 28, 28, 1)
    rdm = np.asarray(good["rdms"]["pool2"])
    asymmetric, negative, infinite, diagonal = (rdm.copy() for _ in range(4))
    asymmetric[0, 1] += 1
    negative[0, 1] = negative[1, 0] = -1
    infinite[0, 1] = infinite[1, 0] = np.inf
    diagonal[2, 2] = 1
    missing = rdm.copy()
    missing[0, 1] = missing[1, 0] = np.nan  # allowed: a missing cell
    load_targets(write_targets(tmp_path / "nan.npz", rdm_pool2=missing), (28, 28, 1), 5)
    bad = {"images": ({"images": None}, "must hold `images`"),
           "no_rdm": ({"rdm_pool2": None, "rdm_act_fc1": None}, "rdm_<layer>"),
           "size": ({"rdm_pool2": rdm[:5, :5]}, r"must be \(6, 6\)"),
           "asymmetric": ({"rdm_pool2": asymmetric}, "symmetric"),
           "negative": ({"rdm_pool2": negative}, "non-negative"),
           "inf": ({"rdm_pool2": infinite}, "inf values"),
           "diagonal": ({"rdm_pool2": diagonal}, "zero diagonal"),
           "shape": ({"images": np.zeros((6, 8, 8, 1))}, r"shape \(N, 28, 28, 1\)"),
           "range": ({"images": np.full((6, 28, 28, 1), 255.0)}, r"in \[0, 1\]"),
           "labels": ({"labels": np.arange(6)}, "integer classes in 0..4"),
           "count": ({"labels": np.zeros(4)}, "hold 6 integer")}
    for name, (changes, message) in bad.items():
        with pytest.raises(ValueError, match=message):
            load_targets(write_targets(tmp_path / f"{name}.npz", **changes), (28, 28, 1), 5)
    (tmp_path / "text.npz").write_text("not an archive")
    with pytest.raises(ValueError, match="Cannot read the targets file"):
        load_targets(tmp_path / "text.npz", (28, 28, 1), 5)


def test_unknown_target_layers_fail_before_training(tmp_path):
    path = write_targets(tmp_path / "t.npz", rdm_V4=np.zeros((6, 6)))
    settings = STUDY.settings(quick=True, targets=str(path))
    assert [c["condition"] for c in STUDY.cells(settings)][:3] == [
        "baseline", "deep_supervision", "rdl"]
    with pytest.raises(ValueError, match=r"lacks: \['V4'\]"):
        STUDY.hypermodel(settings).prepare()


def toy_network(name, seed):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((8,))
    hidden = keras.layers.Dense(8, activation="tanh", name="hidden")(inputs)
    return keras.Model(inputs, keras.layers.Dense(2, activation="softmax", name="softmax")(
        hidden), name=name)


@pytest.mark.parametrize("mode", [pytest.param("teacher", marks=pytest.mark.slow), "targets"])
def test_rdl_pulls_the_students_rdm_toward_the_reference(mode):
    x = np.random.default_rng(1).normal(size=(64, 8)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")
    teacher = toy_network("teacher", 0)
    correlations = {}
    for alpha in (0.0, 3.0):
        student = toy_network("student", 1)
        hidden = keras.Model(teacher.inputs, teacher.get_layer("hidden").output)
        source = ({"teacher": teacher, "layers": {"hidden": "hidden"}} if mode == "teacher" else
                  {"targets": {"hidden": rsa.rdm(hidden(x, training=False), "mse")}})
        model = rsa.RDL(student, alpha=alpha, pair_fraction=0.5, seed=0, **source)
        model.compile(keras.optimizers.Adam(0.03), "sparse_categorical_crossentropy")
        # 40 steps in 4 epochs (Keras' per-epoch overhead dominates so small a model).
        index = np.tile(np.arange(len(x)), 10)
        inputs = x[index] if mode == "teacher" else {"x": x[index], "index": index}
        model.fit(inputs, y[index], batch_size=64, epochs=4, verbose=0, shuffle=False)
        own, reference = (layer_rdms(net, ["hidden"], x[None])["hidden"]
                          for net in (student, teacher))
        correlations[alpha] = mean_correlation(own, reference)
    assert correlations[3.0] > 0.9 and correlations[3.0] > correlations[0.0] + 0.1, correlations


def tiny_settings():
    settings = STUDY.settings(quick=True, epochs=2, seeds=1)
    settings.extra |= {"teacher_epochs": 1, "hint_epochs": 1, "width": 0.25, "test_every": 1,
                       "batch_size": 50}
    return settings


def check_run(out, conditions):
    results, histories = read_tables(out)
    assert list(results["status"]) == ["COMPLETED"] * len(conditions)
    assert list(results["condition"]) == list(conditions)
    students = [c for c in conditions if c != "teacher"]  # the teacher's own fit is not logged
    assert results["test_error"].between(0, 1).all() and len(histories) == 2 * len(students)
    report = open(os.path.join(out, "report.md")).read()
    for heading in ("Test errors (Table 3 layout)", "Exact McNemar tests", "RDM correlation",
                    "| RDL beats the baseline significantly |"):
        assert heading in report, heading
    for name in ("errors.png", "curves.png", "rdm_similarity.png", "rdms.png", "mds.png"):
        assert imread(os.path.join(out, name)).shape[0] > 100, name
    return results.set_index("condition")


@pytest.mark.slow
def test_tiny_end_to_end_run(tmp_path):
    """Baseline and RDL (the teacher trained on the way): tables, McNemar counts, figures."""
    settings, out = tiny_settings(), str(tmp_path / "run")
    cells = [cell for cell in STUDY.cells(settings) if cell["condition"] in ("baseline", "rdl")]
    run_study(STUDY, settings, out, cells=cells, echo=lambda line: None)
    results = check_run(out, ["baseline", "rdl"])
    counts = results.loc["rdl", ["right_only_vs_baseline", "wrong_only_vs_baseline"]]
    changed = np.sum(results["test_error"].diff().abs().fillna(0))  # |error(rdl) - error(baseline)|
    test_size = 846  # digits 5-9 less 10 training images each
    assert abs(counts.iloc[0] - counts.iloc[1]) == round(changed * test_size)
    assert os.path.exists(os.path.join(out, "search", "artefacts", "teacher_seed0.keras"))


@pytest.mark.slow
def test_tiny_end_to_end_run_of_all_conditions(tmp_path):
    out = str(tmp_path / "run")
    run_study(STUDY, tiny_settings(), out, echo=lambda line: None)
    rdl = check_run(out, list(rdl_report.LABELS)).loc["rdl"]
    # Every student is compared with every earlier student (the teacher has another task).
    assert {f"right_only_vs_{c}" for c in ("baseline", "finetuning", "deep_supervision",
                                           "hints")} <= set(rdl.dropna().index)
    assert "right_only_vs_teacher" not in rdl.dropna().index


def test_report_is_built_from_stored_results_and_artefacts(tmp_path):
    """Tables, findings and figures from a run's results and stored RDMs, without training."""
    from kerasbio.studies.rdl import INPUT_RDMS, SAMPLES, SHOWN, artefact_directory
    from kerasbio.studies.report import write_report

    y, predictions = predictions_with_known_discordance()
    results = results_from_predictions(y, predictions)
    rng = np.random.default_rng(0)
    layers = ["pool1", "pool2", "act_fc1", "softmax"]
    for depth, layer in enumerate(layers):  # RDL closest to the teacher, most in deep layers
        results[f"rdm_r_{layer}"] = [0.9 - 0.2 * depth, 0.9 - 0.2 * depth, 0.95 - 0.1 * depth]
    artefacts = artefact_directory(str(tmp_path / "search"))
    os.makedirs(artefacts)
    triangles = {SHOWN: lambda: rng.uniform(size=45), SAMPLES: lambda: rng.uniform(size=(3, 45))}
    for condition in predictions:
        np.savez(os.path.join(artefacts, f"{condition}_seed0_rdms.npz"),
                 **{part + layer: make() for part, make in triangles.items() for layer in layers})
    np.savez(os.path.join(artefacts, INPUT_RDMS), shown_classes=np.repeat(np.arange(5), 2),
             **{part + name: make() for part, make in triangles.items()
                for name in ("pixels", "labels")})
    settings = STUDY.settings(quick=True, seeds=1)
    write_report(STUDY, settings, str(tmp_path), results,
                 pd.DataFrame(columns=["trial_id", "epoch"]), runs=[])
    report = open(tmp_path / "report.md").read()
    mcnemar = rdl_report.markdown(rdl_report.mcnemar_table(results, seed=0))
    assert mcnemar in report and "| baseline | — | 0.00 ↑ | 0.00 ↑ |" in mcnemar
    assert "| The pull is largest in the deepest RDL layer |" in report
    assert "largest at act_fc1 | yes |" in report
    for name in ("errors.png", "rdm_similarity.png", "rdms.png", "mds.png"):
        assert imread(os.path.join(tmp_path, name)).shape[0] > 100, name
    assert not os.path.exists(tmp_path / "curves.png")  # no histories, no curves
