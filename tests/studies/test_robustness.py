"""The robustness study (Dutta 2019): `evaluate` against hand-computed metrics, the
uncertainty-baselines aggregation, hostile input, the networks of each condition, and a tiny
end-to-end run."""

import os

import keras
import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread

import kerasbio
from kerasbio.studies import get_study, run_study
from kerasbio.studies.results import read_tables
from kerasbio.studies.robustness import (CONDITIONS, METHODS, PARADIGMS, TABLE_COLUMNS, evaluate,
                                         with_corruption_means)
from kerasbio.studies.robustness_models import (MIXUP_ALPHA, chapter2_network, chapter3_network,
                                                chapter4_network)

STUDY = get_study("robustness")


def test_full_grid_follows_the_thesis():
    settings = STUDY.settings()
    assert (settings.dataset, settings.seeds, settings.experiments) == ("cifar10", 5, (1, 2, 3, 4))
    chapter2, chapter4 = settings.extra["chapter2"], settings.extra["chapter4"]
    assert (chapter2["epochs"], chapter2["boundaries"], chapter2["learning_rate"],
            chapter2["optimizer"], chapter2["l2"]) == (350, [200, 250, 300], 0.01, "nesterov", 1e-3)
    assert (chapter4["epochs"], chapter4["optimizer"]) == (50, "momentum")
    assert settings.extra["published_corruptions"]
    cells = STUDY.cells(settings)
    assert len(cells) == 5 * 2 * 5 + 5 * 5 * 5 + 3 * 5
    # Experiment 4 (Table 3.2): the three paradigms, analysed at the thesis' layers 3-9, trained
    # as 3.2.3 (SGD momentum 0.9, weight decay 1e-4 = L2 5e-5).
    assert {c["condition"] for c in cells if c["experiment"] == "4"} == set(PARADIGMS)
    assert settings.extra["correlation"]["mixup"] == ["conv2", "conv3", "conv4", "conv5", "conv6"]
    chapter3 = settings.extra["chapter3"]
    assert (chapter3["optimizer"], chapter3["l2"]) == ("momentum", 5e-5)
    # Adding experiment 4 leaves the quick grid and the other experiments' cells as they were.
    assert STUDY.cells(STUDY.settings(experiments=(1, 2, 3))) == [
        c for c in cells if c["experiment"] != "4"]
    assert {(c["condition"], c["layer"]) for c in cells if c["experiment"] == "3"} == {
        (method, layer) for method in METHODS for layer in (1, 3, 5, 6, 8)}
    assert {c["dropout"] for c in cells if c["experiment"] == "2"} == {True}
    # --epochs scales the decay epochs with the schedule.
    assert STUDY.settings(epochs=35).extra["chapter2"]["boundaries"] == [20, 25, 30]
    assert STUDY.settings(quick=True).experiments == (1, 2)


def brightness_model():
    """Class 1 with probability `sigmoid(40 (mean pixel - 0.5))` (softmax of +-20 (m - 0.5)),
    else class 0: its accuracy
    and confidence change with what the manipulations do to an image's mean."""
    inputs = keras.Input((8, 8, 1))
    mean = keras.layers.GlobalAveragePooling2D()(inputs)
    logit = keras.layers.Lambda(lambda m: 20.0 * (m - 0.5))(mean)
    both = keras.layers.Concatenate()([keras.layers.Lambda(lambda z: -z)(logit), logit])
    return keras.Model(inputs, keras.layers.Softmax()(both))


def expected_metrics(images, y):
    """Accuracy, NLL and 15-bin top-label ECE of `brightness_model`, computed by hand."""
    p1 = 1.0 / (1.0 + np.exp(-40.0 * (images.reshape(len(images), -1).mean(1) - 0.5)))
    probabilities = np.stack([1 - p1, p1], axis=1)
    predicted, confidence = probabilities.argmax(1), probabilities.max(1)
    hits = predicted == y
    bins = np.minimum((confidence * 15).astype(int), 14)
    ece = sum(abs(hits[bins == b].mean() - confidence[bins == b].mean()) * np.mean(bins == b)
              for b in np.unique(bins))
    return {"accuracy": hits.mean(),
            "nll": -np.mean(np.log(probabilities[np.arange(len(y)), y])), "ece": ece}


def digits_like(n=40, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, (n, 8, 8, 1)) * rng.uniform(0.3, 1.4, (n, 1, 1, 1))
    x = np.clip(x, 0, 1).astype("float32")
    return x, (x.mean(axis=(1, 2, 3)) > 0.5).astype("int64") ^ (np.arange(n) % 5 == 0)


def test_evaluate_matches_hand_computed_metrics_on_every_set():
    x, y = digits_like()
    table = evaluate(brightness_model(), x, y, corruptions=("contrast", "gaussian_noise"),
                     severities=(1, 3), seed=4)
    assert list(table.columns) == list(TABLE_COLUMNS)
    made = {"clean": x, **{kind: kerasbio.data.occlude(x, kind)
                           for kind in kerasbio.data.OCCLUSIONS}}
    for index, name in enumerate(("contrast", "gaussian_noise")):
        for severity in (1, 3):
            made[name, severity] = kerasbio.data.corrupt(x, name, severity,
                                                         seed=4 + 10 * index + severity)
    for row in table[table["kind"].isin(["clean", "occlusion", "corruption"])].itertuples():
        key = row.name if row.kind != "corruption" else (row.name, row.severity)
        for metric, value in expected_metrics(made[key], y).items():
            assert getattr(row, metric) == pytest.approx(value, abs=1e-5), (key, metric)
    # The occlusions and corruptions change the answer: the sets differ in accuracy.
    assert table["accuracy"].nunique() > 3


def test_per_severity_and_overall_means_follow_uncertainty_baselines():
    rows = [("clean", "clean", 0, 0.9), ("occlusion", "central", 0, 0.5)]
    rows += [("corruption", name, severity, value) for name, values in
             (("fog", (0.8, 0.6, 0.4)), ("snow", (0.7, 0.5, 0.0))) for severity, value in
             zip((1, 2, 3), values)]
    table = pd.DataFrame([{"kind": k, "name": n, "severity": s, "accuracy": a, "nll": 1 - a,
                           "ece": a / 10, "skipped": None} for k, n, s, a in rows])
    skipped = pd.DataFrame([{"kind": "corruption", "name": "frost", "severity": 1,
                             "skipped": "no frost images"}])
    means = with_corruption_means(pd.concat([table, skipped], ignore_index=True))
    per_severity = means[means["kind"] == "severity_mean"].set_index("severity")
    assert per_severity["accuracy"].to_dict() == pytest.approx({1: 0.75, 2: 0.55, 3: 0.2})
    assert per_severity["nll"].to_dict() == pytest.approx({1: 0.25, 2: 0.45, 3: 0.8})
    overall = means[means["kind"] == "corruption_mean"].iloc[0]
    assert overall["accuracy"] == pytest.approx(3.0 / 6)  # the skipped frost is left out
    assert overall["ece"] == pytest.approx(0.05)
    assert len(means) == len(rows) + 1 + 3 + 1


def test_evaluate_covers_the_corruption_registry_and_records_skipped_ones():
    x, y = digits_like(12)
    table = evaluate(brightness_model(), x, y, severities=(2,))
    corruption_rows = table[table["kind"] == "corruption"]
    assert set(corruption_rows["name"]) == set(kerasbio.data.corruptions())
    # Grey images cannot be saturated: the corruption is skipped with the reason, no metrics.
    saturate = corruption_rows[corruption_rows["name"] == "saturate"].iloc[0]
    assert "RGB" in saturate["skipped"] and np.isnan(saturate["accuracy"])
    made = corruption_rows[corruption_rows["skipped"].isna()]
    overall = table[table["kind"] == "corruption_mean"]["accuracy"].iloc[0]
    assert overall == pytest.approx(made["accuracy"].mean())


def test_evaluate_rejects_hostile_input_and_accepts_uint8():
    model = brightness_model()
    x, y = digits_like(10)
    options = dict(corruptions=("contrast",), severities=(1,))
    for bad, message in ((np.full_like(x, np.nan), "NaN"), (x[0], "rank 4"),
                         (x.astype("int32"), "dtype int32"), (x * 3, "values from"),
                         (x[:0], "empty")):
        with pytest.raises(ValueError, match=message):
            evaluate(model, bad, y, **options)
    with pytest.raises(ValueError, match="same examples"):
        evaluate(model, x, y[:5], **options)
    with pytest.raises(ValueError, match="non-negative integer"):
        evaluate(model, x, y - 1, **options)
    with pytest.raises(ValueError, match="corruptions"):
        evaluate(model, x, y, corruptions=("fogg",))
    with pytest.raises(ValueError, match="severities"):
        evaluate(model, x, y, corruptions=("contrast",), severities=(6,))
    as_uint8 = np.round(x * 255).astype("uint8")
    pd.testing.assert_frame_equal(evaluate(model, as_uint8, y, **options),
                                  evaluate(model, as_uint8 / 255.0, y, **options))


def some_then_all(names, default):
    """The `default` names in the default run, the others marked slow (builds take seconds)."""
    return [name if name in default else pytest.param(name, marks=pytest.mark.slow)
            for name in names]


@pytest.mark.parametrize("condition", some_then_all(CONDITIONS, ("baseline", "up", "cg")))
def test_chapter2_networks_put_table_2_1s_noise_on_layer_1_only(condition):
    model = chapter2_network((8, 8, 1), 10, condition, dropout=True, width=0.2, l2=1e-3, seed=0)
    noise = [layer for layer in model.layers
             if isinstance(layer, kerasbio.layers.CorrelatedNoise)]
    if condition == "baseline":
        assert not noise
    else:
        (layer,) = noise
        assert layer.layer.name == "conv1"
        assert layer.distribution == ("gaussian" if condition in ("ug", "cg") else "poisson")
        correlated = condition in ("cg", "cp")
        assert (layer.a, layer.c) == ((0.225, 0.09) if correlated else (0.0, 0.0))
    # Dropout: 20% on the input, 50% after the stride-2 layers conv3 and conv6.
    names = [layer.name for layer in model.layers]
    dropouts = [(names[i - 1], layer.rate) for i, layer in enumerate(model.layers)
                if isinstance(layer, keras.layers.Dropout)]
    assert dropouts == [("input", 0.2), ("act_conv3", 0.5), ("act_conv6", 0.5)]
    assert model.losses and len(model.losses) == 9  # L2 on every kernel


@pytest.mark.parametrize("method", some_then_all(METHODS, ("dropblock", "corrdrop")))
def test_chapter4_networks_place_each_method_at_the_thesis_layer(method):
    kinds = {"spatial_dropout": kerasbio.layers.SpatialDropout2D,
             "spatial_dropout_mod": kerasbio.layers.SimilarMapDropout,
             "dropblock": kerasbio.layers.DropBlock2D, "dropblock_random": kerasbio.layers.CorrDrop,
             "corrdrop": kerasbio.layers.CorrDrop}
    model = chapter4_network((8, 8, 1), 10, method, 3, width=0.1, l2=0.0, block_size=3, seed=0,
                             spatial_rate=0.5, dropblock_rate=0.1)
    (layer,) = [layer for layer in model.layers if isinstance(layer, kinds[method])]
    if isinstance(layer, keras.layers.Wrapper):
        assert layer.layer.name == "conv2"  # the thesis' layer 3
    else:
        names = [one.name for one in model.layers]
        assert names[names.index(layer.name) - 1] == "conv2"
    if method in ("dropblock_random", "corrdrop"):
        assert layer.selection == ("random" if method == "dropblock_random" else "similar")
    if method == "dropblock":
        assert (layer.per_channel, layer.block_size) == (False, 3)


def test_tiny_end_to_end_run(tmp_path):
    settings = STUDY.settings(quick=True, experiments=(1,), epochs=1, seeds=1)
    settings.extra["chapter2"]["width"] = 0.1
    settings.extra.update(corruptions=["gaussian_noise", "contrast"],
                          correlation={"samples": 4, "all_cnn_c": ["conv1"], "vgg11": []})
    cells = [cell for cell in STUDY.cells(settings) if cell["condition"] == "cg"]
    out = str(tmp_path)
    run_study(STUDY, settings, out, cells=cells, echo=lambda line: None, command="test")
    results, histories = read_tables(out)
    assert list(results["status"]) == ["COMPLETED"]
    for column in ("accuracy_clean", "accuracy_checkerboard", "nll_contrast_s5",
                   "ece_mean_s3", "accuracy_mean", "corr_conv1_mean", "corr_conv1_g0_0"):
        assert results[column].notna().all(), column
    severities = results[[f"accuracy_mean_s{s}" for s in range(1, 6)]].to_numpy()
    assert np.allclose(severities.mean(axis=1), results["accuracy_mean"])
    assert len(histories) == 1 and "val_accuracy" in histories.columns
    for name in ("robustness_examples.png", "robustness_occlusions.png",
                 "robustness_corruptions.png", "robustness_correlation.png"):
        image = imread(os.path.join(out, name))
        assert image.shape[0] > 200 and image.std() > 0.01, name
    report = open(os.path.join(out, "report.md")).read()
    for text in ("## Paper vs here", "Occlusions, without dropout (Table 2.3)", "[82.5 ± 1.7]",
                 "Corruptions, without dropout (Table 2.5)", "robustness_occlusions.png",
                 "correlated Gaussian noise beats the baseline", "Table 3.2",
                 "## Corruptions not evaluated", "- saturate: The 'saturate' corruption"):
        assert text in report, text


def test_input_mixup_mixes_inputs_and_labels_exactly_with_beta_weights():
    """Eq. 3.1 with the study's alpha: each batch is `lambda a + (1 - lambda) b` for one drawn
    lambda and a permutation, on inputs and one-hot labels alike, lambda ~ Beta(alpha, alpha)."""
    alpha, batch, draws = MIXUP_ALPHA["input_mixup"], 8, 100
    x = np.eye(batch, dtype="float32")  # row i reveals its partner and lambda
    y = np.eye(3, dtype="float32")[np.random.default_rng(0).integers(0, 3, batch)]
    generator = keras.random.SeedGenerator(0)
    weights = []
    for _ in range(draws):
        mixed_x, mixed_y = (keras.ops.convert_to_numpy(t) for t in
                            kerasbio.analysis.mixup(x, y, alpha=alpha, seed=generator))
        off = mixed_x - np.diag(np.diag(mixed_x))
        if not off.any():  # identity permutation: lambda not observable
            continue
        moved = int(np.flatnonzero(off.any(axis=1))[0])
        weight = float(mixed_x[moved, moved])
        partner = np.where(off.any(axis=1), np.argmax(off, axis=1), np.arange(batch))
        np.testing.assert_allclose(mixed_x, weight * x + (1 - weight) * x[partner], atol=1e-6)
        np.testing.assert_allclose(mixed_y, weight * y + (1 - weight) * y[partner], atol=1e-6)
        weights.append(weight)
    weights = np.array(weights)
    n = len(weights)
    assert n > 0.95 * draws
    mean, variance = 0.5, 1 / (4 * (2 * alpha + 1))
    assert abs(weights.mean() - mean) < 4 * np.sqrt(variance / n)
    assert abs(weights.var() - variance) < 4 * ((weights - mean) ** 2).std() / np.sqrt(n)


def test_manifold_mixup_mixes_at_the_chosen_point_only():
    """Verma et al.: the batch runs to the chosen point, is mixed there with a permutation of
    itself, and continues; input mixup is the input point alone."""
    assert chapter3_network((8, 8, 1), 10, "input_mixup", 0.1, 0.0, 0).mix_layers == (0,)
    trainer = chapter3_network((8, 8, 1), 10, "manifold_mixup", 0.1, 0.0, 0)
    assert trainer.alpha == MIXUP_ALPHA["manifold_mixup"]
    layers = trainer.network.layers
    # Before conv1 (the input), after the first and the second block's pooling.
    assert [layers[i].name for i in trainer.mix_layers] == ["conv1", "conv2", "conv3"]
    assert [layers[i - 1].name for i in trainer.mix_layers[1:]] == ["pool1", "pool2"]
    x = np.random.default_rng(1).random((6, 8, 8, 1)).astype("float32")
    weight, partner = 0.3, np.array([2, 0, 1, 5, 3, 4])

    def by_hand(point):
        hidden = x
        for index, layer in enumerate(layers):
            if index == point:
                hidden = weight * hidden + (1 - weight) * keras.ops.take(hidden, partner, axis=0)
            hidden = layer(hidden, training=True)
        return keras.ops.convert_to_numpy(hidden)

    outputs = {}
    for point in trainer.mix_layers:
        outputs[point] = keras.ops.convert_to_numpy(
            trainer.mixed_forward(x, weight, partner, keras.ops.convert_to_tensor(point)))
        np.testing.assert_allclose(outputs[point], by_hand(point), atol=1e-5)
    points = list(outputs)
    for a, b in zip(points, points[1:]):
        assert np.abs(outputs[a] - outputs[b]).max() > 1e-3
    assert np.abs(outputs[points[0]] - by_hand(None)).max() > 1e-3


@pytest.mark.slow
def test_tiny_mixup_experiment_run(tmp_path):
    settings = STUDY.settings(quick=True, experiments=(4,), epochs=1, seeds=1)
    settings.extra["chapter3"]["width"] = 0.1
    settings.extra.update(corruptions=["contrast"],
                          correlation={"samples": 4, "all_cnn_c": [], "vgg11": [],
                                       "mixup": ["conv2"]})
    out = str(tmp_path)
    run_study(STUDY, settings, out, cells=STUDY.cells(settings), echo=lambda line: None,
              command="test")
    results, _ = read_tables(out)
    assert sorted(results["condition"]) == sorted(PARADIGMS)
    assert list(results["status"]) == ["COMPLETED"] * 3
    assert results[["accuracy_clean", "corr_conv2_mean", "corr_conv2_g0_0"]].notna().all().all()
    image = imread(os.path.join(out, "robustness_correlation_mixup.png"))
    assert image.shape[0] > 200 and image.std() > 0.01
    report = open(os.path.join(out, "report.md")).read()
    for text in ("Correlations with and without mixup (Table 3.2)", "| 3 (conv2) | max |",
                 "[0.43]", "[0.49]", "[0.58]", "raise the average correlation"):
        assert text in report, text
