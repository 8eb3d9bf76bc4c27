"""Figures, tables and paper-vs-here findings of the uncertainty study (McClure 2018, ch. 3)."""

import os

import numpy as np
from matplotlib.figure import Figure

from kerasbio.studies.base import Finding, experiment_rows
from kerasbio.studies.results import format_mean_sd, mean_sd
from kerasbio.studies.uncertainty import (INFERENCES, METHODS, METRICS, curve_columns,
                                          tidy)

LABELS = {"map": "MAP", "bernoulli_dropconnect": "BDC", "gaussian_dropconnect": "GDC",
          "bernoulli_dropout": "BDO", "gaussian_dropout": "GDO", "spike_and_slab": "SSD"}
COLORS = {"map": "black", "bernoulli_dropconnect": "tab:blue",
          "gaussian_dropconnect": "tab:cyan", "bernoulli_dropout": "tab:red",
          "gaussian_dropout": "tab:orange", "spike_and_slab": "tab:green"}
STYLES = {"expectation": dict(ls="--", marker="s", alpha=0.75),
          "mc": dict(ls="-", marker="o")}
INFERENCE_LABELS = {"expectation": "expectation", "mc": "MC (10 samples)"}
DROPOUT = ("bernoulli_dropout", "gaussian_dropout", "spike_and_slab")
DROPCONNECT = ("bernoulli_dropconnect", "gaussian_dropconnect")

# Table 3.1, test error (%): (without MC, with MC, sd of MC over 5 runs); MAP has no MC.
TABLE_3_1 = {
    "mnist": {"map": (0.76, None, None), "bernoulli_dropconnect": (0.56, 0.56, 0.03),
              "gaussian_dropconnect": (0.56, 0.58, 0.02),
              "bernoulli_dropout": (0.49, 0.48, 0.03), "gaussian_dropout": (0.42, 0.36, 0.04),
              "spike_and_slab": (0.48, 0.46, 0.01)},
    "cifar10": {"map": (25.86, None, None), "bernoulli_dropconnect": (16.46, 16.59, 0.11),
                "gaussian_dropconnect": (16.78, 16.65, 0.11),
                "bernoulli_dropout": (11.23, 9.95, 0.08), "gaussian_dropout": (9.07, 9.00, 0.10),
                "spike_and_slab": (10.64, 10.05, 0.06)},
}


def noise_summary(results):
    """Experiment 1: mean and sd over seeds per method, inference and image-noise std (MAP at
    the expectation only: it has nothing to sample)."""
    part = tidy(experiment_rows(results, 1))
    if part.empty:
        return part
    part = part[(part["method"] != "map") | (part["inference"] == "expectation")]
    return mean_sd(part, ["method", "inference", "noise_std"], list(METRICS))


def sweep_summary(results):
    """Experiment 2: clean test error, mean and sd over seeds per method, inference and p."""
    part = tidy(experiment_rows(results, 2))
    if part.empty:
        return part
    return mean_sd(part[part["noise_std"] == 0.0], ["method", "inference", "rate"], ["error"])


def _methods(summary):
    return [method for method in METHODS if method in set(summary["method"])]


def _inferences(method):
    return ("expectation",) if method == "map" else INFERENCES


def figures(settings, results, directory):
    """Figs. 3.5 (noise), 3.7 (calibration curves) and 3.8 (p sweep) as PNGs."""
    made = []
    for draw in (_figure_noise, _figure_calibration, _figure_sweep):
        drawn = draw(settings, results)
        if drawn is not None:
            name, caption, figure = drawn
            figure.savefig(os.path.join(directory, name), dpi=110, bbox_inches="tight")
            made.append((name, caption))
    return made


def _errorbars(ax, x, y, yerr, method, inference, **extra):
    ax.errorbar(x, y, yerr, color=COLORS[method], ms=4, capsize=2,
                label=f"{LABELS[method]}, {INFERENCE_LABELS[inference]}",
                **STYLES[inference], **extra)


def _figure_noise(settings, results):
    summary = noise_summary(results)
    if summary.empty:
        return None
    figure = Figure(figsize=(16, 4.4))
    axes = figure.subplots(1, 3)
    for method in _methods(summary):
        for inference in _inferences(method):
            rows = summary[(summary["method"] == method) & (summary["inference"] == inference)]
            _errorbars(axes[0], rows["noise_std"], rows["error"], rows["error_sd"], method,
                       inference)
            _errorbars(axes[1], rows["noise_std"], rows["calibration_mse"],
                       rows["calibration_mse_sd"], method, inference)
            _errorbars(axes[2], rows["error"], rows["calibration_mse"],
                       rows["calibration_mse_sd"], method, inference, xerr=rows["error_sd"])
    axes[0].set(xlabel="image noise std", ylabel="test error", title="A: error vs image noise")
    axes[1].set(xlabel="image noise std", ylabel="calibration MSE",
                title="B: calibration MSE vs image noise")
    axes[2].set(xlabel="test error", ylabel="calibration MSE",
                title="C: calibration MSE vs error (all noise levels)")
    axes[2].sharey(axes[1])
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[2].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    caption = (f"Thesis Fig. 3.5 on {settings.dataset}: solid MC sampling (10 samples), dashed "
               f"expectation; mean ± sd over {settings.seeds} seeds.")
    return "uncertainty_noise.png", caption, figure


def _figure_calibration(settings, results):
    part = experiment_rows(results, 1)
    if part.empty:
        return None
    names = [name for inference in INFERENCES for pair in curve_columns(inference)
             for name in pair if name in part.columns]
    summary = mean_sd(part, ["method"], names)
    methods = _methods(summary)
    figure = Figure(figsize=(3.6 * len(methods), 3.8))
    axes = figure.subplots(1, len(methods), squeeze=False, sharex=True, sharey=True)[0]
    for ax, method in zip(axes, methods):
        row = summary[summary["method"] == method].iloc[0]
        ax.plot([0, 1], [0, 1], color="grey", lw=1, ls=":", label="ideal")
        for inference in _inferences(method):
            probability, frequency = curve_columns(inference)
            kept = [p for p in probability if p in row.index and not np.isnan(row[p])]
            kept_f = [frequency[probability.index(p)] for p in kept]
            _errorbars(ax, row[kept].to_numpy(float), row[kept_f].to_numpy(float),
                       row[[f"{name}_sd" for name in kept_f]].to_numpy(float), method,
                       inference)
        ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="predicted probability of a class",
               ylabel="frequency of the true label", title=LABELS[method])
        ax.legend(fontsize=7, loc="upper left")
    caption = ("Thesis Fig. 3.7: calibration curves (every class' probability, 10 bins) pooled "
               "over the image-noise levels; solid MC, dashed expectation; mean ± sd over seeds.")
    return "uncertainty_calibration.png", caption, figure


def _figure_sweep(settings, results):
    summary = sweep_summary(results)
    if summary.empty:
        return None
    methods = _methods(summary)
    figure = Figure(figsize=(3.6 * len(methods), 3.6))
    axes = figure.subplots(1, len(methods), squeeze=False, sharey=True)[0]
    for ax, method in zip(axes, methods):
        for inference in INFERENCES:
            rows = summary[(summary["method"] == method) & (summary["inference"] == inference)]
            _errorbars(ax, rows["rate"], rows["error"], rows["error_sd"], method, inference)
        ax.set(xlabel="p (spike-and-slab: dropout p)", ylabel="clean test error",
               title=LABELS[method])
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    caption = ("Thesis Fig. 3.8: clean test error against p; solid MC, dashed expectation; "
               "mean ± sd over seeds.")
    return "uncertainty_p_sweep.png", caption, figure


def tables(settings, results):
    """Table 3.1 beside ours, the metrics per noise level, and the p sweep."""
    sections = []
    summary = noise_summary(results)
    if not summary.empty:
        sections.append(("Test error (%) beside the thesis' Table 3.1",
                         _table_3_1(settings, summary)))
        by = ["method", "inference", "noise_std"]
        sections.append(("Experiment 1: metrics against image noise",
                         format_mean_sd(summary, by, list(METRICS), digits=4)))
    sweep = sweep_summary(results)
    if not sweep.empty:
        by = ["method", "inference", "rate"]
        sections.append(("Experiment 2: clean test error against p",
                         format_mean_sd(sweep, by, ["error"])))
    return sections


def _table_3_1(settings, summary):
    reference = TABLE_3_1.get("cifar10" if settings.dataset.startswith("cifar") else "mnist")
    source = "CIFAR-10" if settings.dataset.startswith("cifar") else "MNIST"
    lines = [f"Paper: {source}; here: {settings.dataset}"
             + (" (quick: different data, so only the pattern can compare)."
                if settings.dataset == "digits" else "."), "",
             "| method | paper | here | paper MC | here MC |", "|---|---|---|---|---|"]
    for method in _methods(summary):
        paper, paper_mc, paper_sd = reference[method]
        here = [_error_text(summary, method, inference) for inference in INFERENCES]
        lines.append(f"| {LABELS[method]} | {paper:.2f} | {here[0]} | "
                     f"{'-' if paper_mc is None else f'{paper_mc:.2f} ± {paper_sd:.2f}'} | "
                     f"{'-' if method == 'map' else here[1]} |")
    return "\n".join(lines)


def _error_text(summary, method, inference):
    value = _at(summary, method, inference, 0.0, "error")
    return "missing" if value is None else f"{100 * value[0]:.2f} ± {100 * value[1]:.2f}"


def _at(summary, method, inference, std, metric):
    row = summary[(summary["method"] == method) & (summary["inference"] == inference)
                  & np.isclose(summary["noise_std"], std)]
    if row.empty:
        return None
    return float(row[metric].iloc[0]), float(row[f"{metric}_sd"].iloc[0])


def findings(settings, results):
    """Paper-vs-here rows: MC and calibration per method, dropout vs dropconnect, the p sweep."""
    rows = []
    summary = noise_summary(results)
    if not summary.empty:
        rows += [_calibration_finding(summary, method) for method in _methods(summary)
                 if method != "map"]
        rows += _accuracy_findings(summary)
    sweep = sweep_summary(results)
    if not sweep.empty:
        rows.append(_sweep_finding(sweep))
    return rows


def _calibration_finding(summary, method):
    noisy = sorted(std for std in summary["noise_std"].unique() if std > 0)
    parts, better = [], []
    for std in noisy:
        values = {(metric, inference): _at(summary, method, inference, std, metric)
                  for metric in ("ece", "calibration_mse", "nll") for inference in INFERENCES}
        if any(value is None for value in values.values()):
            continue
        parts.append(f"std {std:g}: ECE {values['ece', 'expectation'][0]:.3f} -> "
                     f"{values['ece', 'mc'][0]:.3f}, calibration MSE "
                     f"{values['calibration_mse', 'expectation'][0]:.4f} -> "
                     f"{values['calibration_mse', 'mc'][0]:.4f}, NLL "
                     f"{values['nll', 'expectation'][0]:.2f} -> {values['nll', 'mc'][0]:.2f}")
        better.append([values[metric, "mc"][0] < values[metric, "expectation"][0]
                       for metric in ("ece", "calibration_mse")])
    verdict = None if not better else bool(np.mean(better, axis=0).min() > 0.5)
    return Finding(
        f"{LABELS[method]}: MC sampling improves calibration under image noise.",
        "sampling consistently improved calibration as image noise increased (Figs. 3.5B, "
        "3.6B)",
        "expectation -> MC, " + ("; ".join(parts) if parts else "no noisy test set run")
        + " (reproduced when MC lowers both ECE and calibration MSE at most noise levels)",
        verdict)


def _mean_error(summary, methods, std, inference):
    values = [_at(summary, method, inference, std, "error") for method in methods]
    values = [value[0] for value in values if value is not None]
    return float(np.mean(values)) if values else None


def _accuracy_findings(summary):
    top = float(summary["noise_std"].max())
    clean = {kind: _mean_error(summary, methods, 0.0, "expectation")
             for kind, methods in (("dropout", DROPOUT), ("dropconnect", DROPCONNECT))}
    noisy = {kind: _mean_error(summary, methods, top, "mc")
             for kind, methods in (("dropout", DROPOUT), ("dropconnect", DROPCONNECT))}

    def text(values):
        return ", ".join(f"{kind} {'missing' if value is None else f'{value:.3f}'}"
                         for kind, value in values.items())

    def compare(values):
        return None if None in values.values() else values["dropout"] < values["dropconnect"]

    robust = compare(noisy)
    return [
        Finding("Dropout-based networks are the most accurate on the clean test set.",
                "BDO, GDO, SSD below BDC, GDC in Table 3.1",
                f"mean clean error (expectation): {text(clean)}", compare(clean)),
        Finding("With image noise, dropout-based networks fall behind dropconnect.",
                "dropout became increasingly worse than dropconnect as noise grew (Fig. 3.5A)",
                f"mean MC error at std {top:g}: {text(noisy)}",
                None if robust is None or top == 0 else not robust),
    ]


def _sweep_finding(sweep):
    highest = float(sweep["rate"].max())
    parts, better = [], []
    for method in ("bernoulli_dropout", "gaussian_dropout"):
        rows = sweep[(sweep["method"] == method) & np.isclose(sweep["rate"], highest)]
        errors = {row["inference"]: row["error"] for _, row in rows.iterrows()}
        if set(errors) == set(INFERENCES):
            parts.append(f"{LABELS[method]} {errors['expectation']:.3f} -> {errors['mc']:.3f}")
            better.append(errors["mc"] < errors["expectation"])
    return Finding(
        "MC sampling makes dropout robust to a high p.",
        "at high p MC inference outperforms the expectation (Fig. 3.8, CIFAR-10; not on MNIST)",
        f"clean error at p = {highest:g}, expectation -> MC: " + ("; ".join(parts) or "missing"),
        all(better) if better else None)
