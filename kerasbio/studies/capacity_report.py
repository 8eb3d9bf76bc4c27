"""Figures, tables and the paper-vs-here findings of the capacity study (Tsvetkov et al. 2020)."""

import os

import numpy as np
from matplotlib.figure import Figure

from kerasbio.studies.base import Finding, experiment_rows
from kerasbio.studies.capacity import DATA, LEVELS, MANIPULATIONS
from kerasbio.studies.results import format_mean_sd, mean_sd

DATA_LABELS = {"structured": "structured images", "gaussian_pixels": "Gaussian-pixel images",
               "random_labels": "random labels"}
DATA_COLORS = {"structured": "tab:blue", "gaussian_pixels": "tab:red",
               "random_labels": "tab:green"}
ACCURACIES = ("train_accuracy_fit", "train_accuracy", "test_accuracy",
              "test_accuracy_expectation")
CHANCE_MARGIN = 0.05  # "at chance": within 5 points of 1 / classes
STRUCTURED_KEPT = 0.8  # structured data "still learned": training accuracy >= 0.8


def noise_threshold(results, activation="relu"):
    """The smallest noise std at which Gaussian-pixel training accuracy (fit, noise on) is at
    chance (within `CHANCE_MARGIN` of 1 / 10) in experiment 1 without bottleneck, or `None`."""
    summary = _noise_curve(results, activation, "gaussian_pixels")
    if summary.empty:
        return None
    at_chance = summary[summary["train_accuracy_fit"] <= 0.1 + CHANCE_MARGIN]
    return None if at_chance.empty else float(at_chance["noise_std"].min())


def _noise_curve(results, activation, data):
    part = experiment_rows(results, 1)
    part = part[(part["activation"] == activation) & (~part["bottleneck"].astype(bool))
                & (part["data"] == data)]
    return mean_sd(part, ["noise_std"], ACCURACIES)


def figures(settings, results, directory):
    """The paper's Figures 2 (noise curves, bottleneck bars), 3 and 4 as PNGs."""
    made = []
    for number, draw in ((1, _figure_noise), (1, _figure_bottleneck), (2, _figure_classes),
                         (3, _figure_generalization)):
        part = experiment_rows(results, number)
        if part.empty or (draw is _figure_bottleneck and not part["bottleneck"].any()):
            continue
        name, caption, figure = draw(part, settings)
        figure.savefig(os.path.join(directory, name), dpi=110, bbox_inches="tight")
        made.append((name, caption))
    return made


def _figure_noise(part, settings):
    activations = sorted(part["activation"].unique())
    figure = Figure(figsize=(11, 3.8 * len(activations)), layout="constrained")
    axes = figure.subplots(len(activations), 2, squeeze=False, sharey=True)
    for row, activation in enumerate(activations):
        threshold = noise_threshold(part, activation)
        for column, (train, test, title) in enumerate((
                ("train_accuracy_fit", "test_accuracy", "noise on (as Keras reports in fit)"),
                ("train_accuracy", "test_accuracy_expectation", "at the expectation (noise off)"))):
            ax = axes[row, column]
            for data in DATA:
                summary = _noise_curve(part, activation, data)
                if summary.empty:
                    continue
                color = DATA_COLORS[data]
                ax.errorbar(summary["noise_std"], summary[train], summary[f"{train}_sd"],
                            color=color, marker="o", ms=3, capsize=2,
                            label=f"{DATA_LABELS[data]}, train")
                ax.errorbar(summary["noise_std"], summary[test], summary[f"{test}_sd"],
                            color=color, ls="--", marker="s", ms=3, capsize=2, alpha=0.7,
                            label=f"{DATA_LABELS[data]}, test")
            ax.axhline(0.1, color="grey", ls=":", lw=1, label="chance (10 classes)")
            if threshold is not None:
                ax.axvline(threshold, color="black", ls="-.", lw=1,
                           label=f"threshold std {threshold:g}")
            ax.set(ylim=(0, 1.05), xlabel="internal noise std",
                   ylabel="accuracy", title=f"{activation}: {title}")
            ax.grid(alpha=0.3)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=4,
                  fontsize=8)
    figure.suptitle(f"Experiment 1: accuracy against internal noise, no bottleneck "
                    f"({settings.dataset}; mean ± sd over {settings.seeds} seeds)")
    caption = (f"Experiment 1 (paper Fig. 2, left): accuracy against internal noise std, "
               f"no bottleneck; solid: training, dashed: test; mean ± sd over "
               f"{settings.seeds} seeds.")
    return "capacity_noise.png", caption, figure


def _figure_bottleneck(part, settings):
    levels = sorted(part[part["bottleneck"].astype(bool)]["noise_std"].unique())
    part = part[part["noise_std"].isin(levels)]
    activations = sorted(part["activation"].unique())
    figure = Figure(figsize=(11, 3.5 * len(activations)), layout="constrained")
    axes = figure.subplots(len(activations), len(DATA), squeeze=False, sharey=True)
    for row, activation in enumerate(activations):
        for column, data in enumerate(DATA):
            ax = axes[row, column]
            cells = part[(part["activation"] == activation) & (part["data"] == data)]
            summary = mean_sd(cells, ["noise_std", "bottleneck"], ["train_accuracy_fit"])
            positions = np.arange(len(levels))
            for offset, bottleneck, shade in ((-0.2, False, 1.0), (0.2, True, 0.45)):
                rows = summary[summary["bottleneck"].astype(bool) == bottleneck]
                rows = rows.set_index("noise_std").reindex(levels)
                ax.bar(positions + offset, rows["train_accuracy_fit"], 0.4,
                       yerr=rows["train_accuracy_fit_sd"], capsize=3,
                       color=DATA_COLORS[data], alpha=shade,
                       label="bottleneck" if bottleneck else "no bottleneck")
            ax.set_xticks(positions, [f"{level:g}" for level in levels])
            _label_accuracy_axes(ax, 0.1, "internal noise std", "training accuracy",
                                 f"{activation}: {DATA_LABELS[data]}")
    caption = ("Experiment 1 (paper Fig. 2, right): training accuracy (fit, noise on) with "
               "(light) and without (dark) bottleneck; dotted: chance; mean ± sd over seeds.")
    return "capacity_bottleneck.png", caption, figure


def _figure_classes(part, settings):
    kinds = [data for data in DATA if data in set(part["data"])]
    figure = Figure(figsize=(5.5 * len(kinds), 3.8), layout="constrained")
    axes = figure.subplots(1, len(kinds), squeeze=False, sharey=True)[0]
    classes = sorted(part["classes"].unique(), reverse=True)
    examples = sorted(part["examples_per_class"].unique(), reverse=True)
    width = 0.8 / len(classes)
    for ax, data in zip(axes, kinds):
        summary = mean_sd(part[part["data"] == data], ["classes", "examples_per_class"],
                           ["train_accuracy_fit"])
        for index, count in enumerate(classes):
            rows = summary[summary["classes"] == count].set_index("examples_per_class")
            rows = rows.reindex(examples)
            positions = np.arange(len(examples)) + (index - (len(classes) - 1) / 2) * width
            shade = 0.35 + 0.65 * (count - min(classes)) / max(1, max(classes) - min(classes))
            ax.bar(positions, rows["train_accuracy_fit"], width,
                   yerr=rows["train_accuracy_fit_sd"], capsize=2, color="black", alpha=shade,
                   label=f"{count} classes")
            ax.hlines(1 / count, positions[0] - width / 2, positions[-1] + width / 2,
                      colors="tab:orange", linestyles=":", lw=1.5)
        ax.set_xticks(np.arange(len(examples)), [str(n) for n in examples])
        ax.set(ylim=(0, 1.05), xlabel="examples per class", ylabel="training accuracy",
               title=f"{DATA_LABELS[data]}, noise std {part['noise_std'].iloc[0]:g}")
        ax.legend(fontsize=7)
    caption = ("Experiment 2 (paper Fig. 3): training accuracy (fit, noise on) at high internal "
               "noise; darker bars: more classes; orange dotted: chance for each class count; "
               "mean ± sd over seeds.")
    return "capacity_classes.png", caption, figure


def _figure_generalization(part, settings):
    activations = sorted(part["activation"].unique())
    bottlenecks = sorted(part["bottleneck"].astype(bool).unique())
    figure = Figure(figsize=(11, 3.5 * len(activations) * len(bottlenecks)),
                    layout="constrained")
    axes = figure.subplots(len(activations) * len(bottlenecks), len(MANIPULATIONS),
                           squeeze=False, sharey=True)
    columns = [f"{kind}_{level:.2f}" for kind in MANIPULATIONS for level in LEVELS]
    for row, (activation, bottleneck) in enumerate(
            (a, b) for a in activations for b in bottlenecks):
        cells = part[(part["activation"] == activation)
                     & (part["bottleneck"].astype(bool) == bottleneck)]
        summary = mean_sd(cells, ["noise_std"], columns)
        for column, kind in enumerate(MANIPULATIONS):
            ax = axes[row, column]
            names = [f"{kind}_{level:.2f}" for level in LEVELS]
            for _, line in summary.iterrows():
                ax.errorbar(LEVELS, line[names].to_numpy(float),
                            line[[f"{n}_sd" for n in names]].to_numpy(float), marker="o",
                            ms=3, capsize=2, label=f"internal noise {line['noise_std']:g}")
            _label_accuracy_axes(
                ax, 1 / cells["classes"].iloc[0],
                "uniform noise width" if kind == "uniform" else "salt-and-pepper p",
                "test accuracy",
                f"{activation}, {'bottleneck' if bottleneck else 'no bottleneck'}")
    caption = ("Experiment 3 (paper Fig. 4): test accuracy (internal noise on) on "
               "manipulated test images; dotted: chance; mean ± sd over seeds.")
    return "capacity_generalization.png", caption, figure


def _label_accuracy_axes(ax, chance, xlabel, ylabel, title):
    """A dotted chance line, the shared accuracy scale (0-1), labels, title and legend."""
    ax.axhline(chance, color="grey", ls=":", lw=1)
    ax.set(ylim=(0, 1.05), xlabel=xlabel, ylabel=ylabel, title=title)
    ax.legend(fontsize=7)



def tables(settings, results):
    """Mean +- sd over seeds for each experiment's cells."""
    sections = []
    specs = (
        (1, "Experiment 1: accuracy against internal noise",
         ["activation", "bottleneck", "data", "noise_std"], list(ACCURACIES)),
        (2, "Experiment 2: classes and examples per class at high noise",
         ["activation", "data", "noise_std", "classes", "examples_per_class"],
         ["train_accuracy_fit", "train_accuracy"]),
        (3, "Experiment 3: test accuracy on manipulated images (internal noise on)",
         ["activation", "bottleneck", "noise_std"],
         [f"{kind}_{level:.2f}" for kind in MANIPULATIONS for level in (0.0, 0.25, 0.5)]),
    )
    for number, heading, by, columns in specs:
        part = experiment_rows(results, number)
        if not part.empty:
            sections.append((heading, format_mean_sd(mean_sd(part, by, columns), by, columns)))
    return sections


def _at(summary, std, column):
    row = summary[np.isclose(summary["noise_std"], std)]
    if row.empty:
        return None
    return float(row[column].iloc[0]), float(row[f"{column}_sd"].iloc[0])


def _text(value):
    return "missing" if value is None else f"{value[0]:.3f} ± {value[1]:.3f}"


def findings(settings, results, grid):
    """Paper-vs-here rows for experiments 1-3 (ReLU; sigmoid rows when it was run)."""
    rows = []
    if not experiment_rows(results, 1).empty:
        rows += _noise_findings(results, "relu", grid)
        rows += _bottleneck_findings(results, "relu", grid)
    if not experiment_rows(results, 2).empty:
        rows += _class_findings(results)
    if not experiment_rows(results, 3).empty:
        rows += _generalization_findings(results, "relu")
    return rows


def _noise_findings(results, activation, grid):
    gaussian = _noise_curve(results, activation, "gaussian_pixels")
    structured = _noise_curve(results, activation, "structured")
    labels = _noise_curve(results, activation, "random_labels")
    if gaussian.empty or structured.empty:
        return []
    zero = _at(gaussian, 0.0, "train_accuracy_fit")
    memorized = None if zero is None else zero[0] >= 0.9
    rows = [Finding(
        "Without internal noise the network memorizes Gaussian-pixel images.",
        "training accuracy on random images about 1.0 at noise 0 (Fig. 2)",
        f"Gaussian-pixel training accuracy at std 0: {_text(zero)}", memorized)]
    threshold = noise_threshold(results, activation)
    rows.append(Finding(
        "Internal noise above a threshold brings random-image training accuracy to chance.",
        "threshold about 0.6 (ReLU, CIFAR-10), chance 0.1",
        ("no noise level of the grid brings Gaussian-pixel training accuracy within "
         f"{CHANCE_MARGIN} of chance" if threshold is None else
         f"threshold std {threshold:g}: Gaussian-pixel training accuracy "
         f"{_text(_at(gaussian, threshold, 'train_accuracy_fit'))} (chance 0.1)"),
        threshold is not None))
    if threshold is not None:
        kept = _at(structured, threshold, "train_accuracy_fit")
        test = _at(structured, threshold, "test_accuracy")
        rows.append(Finding(
            "At that threshold structured images are still learned.",
            "CIFAR-10 training and test accuracy show only a minor drop",
            f"structured images at std {threshold:g}: training {_text(kept)}, test "
            f"{_text(test)} (std 0: training "
            f"{_text(_at(structured, 0.0, 'train_accuracy_fit'))}, test "
            f"{_text(_at(structured, 0.0, 'test_accuracy'))})",
            kept is not None and kept[0] >= STRUCTURED_KEPT))
    if not labels.empty:
        zero_labels = _at(labels, 0.0, "train_accuracy_fit")
        level = None if threshold is None else _nearest_level(labels, threshold)
        at_threshold = None if level is None else _at(labels, level, "train_accuracy_fit")
        rows.append(Finding(
            "Random labels are memorized without noise (Zhang et al. 2017) and, if noise "
            "reduces capacity, not at the threshold.",
            "not run in the paper (random images only); Zhang et al.: random labels fit 1.0",
            f"random-label training accuracy at std 0: {_text(zero_labels)}; at std "
            f"{'-' if level is None else f'{level:g}'} (its grid level nearest the "
            f"threshold): {_text(at_threshold)}",
            None if zero_labels is None or at_threshold is None else
            zero_labels[0] >= 0.9 and at_threshold[0] <= 0.1 + CHANCE_MARGIN))
    return rows


def _nearest_level(summary, threshold):
    """The noise level of `summary` nearest `threshold` (the larger one on a tie)."""
    return min(sorted(summary["noise_std"], reverse=True), key=lambda level: abs(level - threshold))


def _bottleneck_findings(results, activation, grid):
    part = experiment_rows(results, 1)
    part = part[(part["activation"] == activation) & (part["data"] == "gaussian_pixels")]
    summary = mean_sd(part, ["bottleneck", "noise_std"], ["train_accuracy_fit"])
    with_bottleneck = summary[summary["bottleneck"].astype(bool)]
    without = summary[~summary["bottleneck"].astype(bool)]
    if with_bottleneck.empty:
        return []
    zero = _at(with_bottleneck, 0.0, "train_accuracy_fit")
    moderate = grid["constraint_noise"][activation][1]
    alone, combined = _at(without, moderate, "train_accuracy_fit"), _at(
        with_bottleneck, moderate, "train_accuracy_fit")
    return [
        Finding("A bottleneck alone does not stop memorization of random images.",
                "bottleneck models fit random images perfectly at noise 0",
                f"Gaussian-pixel training accuracy with bottleneck at std 0: {_text(zero)}",
                None if zero is None else zero[0] >= 0.9),
        Finding("Bottleneck plus moderate noise reduces random-image learning more than noise "
                "alone.",
                "combined constraints more effective, especially at moderate noise (0.2)",
                f"Gaussian-pixel training accuracy at std {moderate:g}: noise alone "
                f"{_text(alone)}, with bottleneck {_text(combined)}",
                None if alone is None or combined is None else combined[0] < alone[0]),
    ]


def _class_findings(results):
    part = experiment_rows(results, 2)
    summary = mean_sd(part, ["data", "classes", "examples_per_class"], ["train_accuracy_fit"])
    gaussian = summary[summary["data"] == "gaussian_pixels"]
    if gaussian.empty:
        return []
    largest = gaussian.sort_values(["classes", "examples_per_class"]).iloc[-1]
    smallest = gaussian.sort_values(["classes", "examples_per_class"]).iloc[0]

    def describe(row):
        return (f"{int(row['classes'])} classes x {int(row['examples_per_class'])}: "
                f"{row['train_accuracy_fit']:.3f} ± {row['train_accuracy_fit_sd']:.3f} "
                f"(chance {1 / row['classes']:.2f})")

    above = smallest["train_accuracy_fit"] - 1 / smallest["classes"]
    near_chance = largest["train_accuracy_fit"] - 1 / largest["classes"]
    return [Finding(
        "At high noise, fewer classes and examples let random images be learned above chance "
        "(noise reduces capacity rather than blocking unstructured data).",
        "random-image training accuracy rises from chance as classes and examples decrease "
        "(Fig. 3, noise 0.8)",
        f"Gaussian-pixel training accuracy, {describe(largest)}; {describe(smallest)}",
        bool(above > CHANCE_MARGIN and above > near_chance))]


def _generalization_findings(results, activation):
    part = experiment_rows(results, 3)
    part = part[(part["activation"] == activation) & (~part["bottleneck"].astype(bool))]
    rows = []
    for kind in MANIPULATIONS:
        names = [f"{kind}_{level:.2f}" for level in LEVELS]
        means = part.assign(mean=part[names].mean(axis=1)).groupby("noise_std")["mean"].mean()
        if 0.0 not in means.index or len(means) < 2:
            continue
        baseline, best_noisy = means.loc[0.0], means.drop(0.0).max()
        label = "uniform noise" if kind == "uniform" else "salt-and-pepper noise"
        detail = ", ".join(f"std {std:g}: {value:.3f}" for std, value in means.items())
        rows.append(Finding(
            f"ReLU networks with internal noise do not generalize better to {label}.",
            "similar accuracy across ReLU models; the baseline (no noise) performs best",
            f"mean test accuracy over levels 0-0.5 ({detail})",
            bool(baseline >= best_noisy - 0.01)))
    return rows
