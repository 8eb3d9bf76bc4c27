"""Figures, tables and paper-vs-here findings of the read-out study (McClure 2018, 4.3)."""

import os

import numpy as np
import scipy.stats

from kerasbio._core.plotting import new_figure, save_png
from kerasbio.studies.base import Finding
from kerasbio.studies.readout import METRICS, NETWORKS, standard_error, tidy

LABELS = {"map": "MAP", "mc_training": "MC training",
          "mc_training_testing": "MC training and testing"}
COLORS = {"map": "black", "mc_training": "tab:blue", "mc_training_testing": "tab:red"}
METRIC_LABELS = {"accuracy": "read-out accuracy on the held-out set",
                 "correlation": "Pearson r of p(true class) with confidence"}
SIGNIFICANCE = 0.05
# Table 4.2: network accuracy (%), ImageNet and Eco-set; MC: mean over 5 MC runs of 10 samples.
TABLE_4_2 = {"map": (52.07, 49.09), "mc_training": (55.43, 53.36),
             "mc_training_testing": (57.04, 55.06)}
# 4.3.3: paired t-tests across all layers and the five image sets (Eco-set CNN).
PAPER_P = {"map": 1.31e-7, "mc_training": 2.23e-5}


def per_set(results):
    """Read-out measures averaged over seeds: one row per network, layer and held-out set."""
    table = tidy(results)
    return table.groupby(["network", "depth", "set"], as_index=False)[list(METRICS)].mean()


def summary(results):
    """Per network and layer: each measure's mean over the held-out sets and its standard
    error across them (`<metric>_se`), and the number of sets."""
    table = per_set(results)
    grouped = table.groupby(["network", "depth"])
    means = grouped[list(METRICS)].mean()
    errors = grouped[list(METRICS)].agg(standard_error).add_suffix("_se")
    return means.join(errors).join(grouped.size().rename("sets")).reset_index()


def paired_test(table, network, other, depth=None):
    """Paired t-test of the correlations of `network` against `other`, paired by layer and
    held-out set (all layers, or one `depth`): `(mean difference, t, p, pairs)`."""
    if depth is not None:
        table = table[table["depth"] == depth]
    wide = table.pivot_table(index=["depth", "set"], columns="network", values="correlation")
    if network not in wide or other not in wide:
        return None
    pairs = wide[[network, other]].dropna()
    if len(pairs) < 2:
        return None
    test = scipy.stats.ttest_rel(pairs[network], pairs[other])
    return (float((pairs[network] - pairs[other]).mean()), float(test.statistic),
            float(test.pvalue), len(pairs))


def significant_layers(table, other):
    """Layers where MC training and testing correlates significantly better than `other`
    (paired t-test across the held-out sets, uncorrected, as in Fig. 4.2)."""
    layers = []
    for depth in sorted(table["depth"].unique()):
        test = paired_test(table, "mc_training_testing", other, depth)
        if test is not None and test[0] > 0 and test[2] < SIGNIFICANCE:
            layers.append(int(depth))
    return layers


def layer_names(depths):
    """Table 4.1's layer names: conv1 ... conv7, then softmax (the last read layer)."""
    last = max(depths)
    return {depth: "softmax" if depth == last else f"conv{depth}" for depth in depths}


def figures(settings, results, directory):
    """Fig. 4.2: read-out accuracy (A) and correlation with confidence (B) per layer."""
    table = summary(results)
    if table.empty:
        return []
    figure = new_figure((12, 4.4))
    axes = figure.subplots(1, 2)
    depths = sorted(table["depth"].unique())
    for network in [n for n in NETWORKS if n in set(table["network"])]:
        rows = table[table["network"] == network]
        for ax, metric in zip(axes, METRICS):
            ax.errorbar(rows["depth"], rows[metric], rows[f"{metric}_se"], marker="o", ms=4,
                        capsize=3, color=COLORS[network], label=LABELS[network])
    observers = results["observer_accuracy"].mean() if "observer_accuracy" in results else None
    observers = observers if observers is not None and np.isfinite(observers) else None
    if observers is not None:
        who = "synthetic observers" if settings.extra.get("confidence") is None else "humans"
        axes[0].axhline(observers, color="grey", ls="--", label=f"{who} (avg.)")
    stars = set(significant_layers(per_set(results), "map")) & set(
        significant_layers(per_set(results), "mc_training"))
    for depth in stars:
        axes[1].annotate("*", (depth, 1.0), ha="center", va="top", fontsize=14)
    names = layer_names(depths)
    for ax, metric, letter in zip(axes, METRICS, "AB"):
        ax.set(xlabel="CNN layer read out", ylabel=METRIC_LABELS[metric], xticks=depths,
               title=f"{letter}: {METRIC_LABELS[metric]}")
        ax.set_xticklabels([names[d] for d in depths], rotation=30)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    lowest = np.nanmin(table["accuracy"] - table["accuracy_se"])
    axes[0].set_ylim(min(0.5, lowest - 0.05, observers or 1.0) - 0.02, 1.0)
    axes[1].set_ylim(min(-0.1, float(np.nanmin(table["correlation"] - table["correlation_se"]))),
                     1.02)
    save_png(figure, os.path.join(directory, "readout_layers.png"))
    caption = (f"Thesis Fig. 4.2 on {settings.dataset} ({_confidence_source(settings)}): mean "
               f"over the {settings.extra['sets']} held-out image sets ± standard error across "
               f"them ({settings.seeds} seed(s) averaged); * MC training and testing correlates "
               f"significantly better than both others (paired t-test across sets, p < 0.05 "
               f"uncorrected).")
    return [("readout_layers.png", caption)]


def _confidence_source(settings):
    if settings.extra.get("confidence") is None:
        return "synthetic confidence, a stand-in for human data"
    return f"confidence from {os.path.basename(settings.extra['confidence'])}"


def tables(settings, results):
    """How the confidence was made, the per-layer measures, the paired tests, Table 4.2."""
    table = summary(results)
    if table.empty:
        return []
    return [("Confidence scores", confidence_text(settings)),
            ("Read-outs per layer (mean ± SE across held-out sets)", _layer_table(table)),
            ("Paired t-tests of the correlations (all layers and sets)",
             _tests_table(per_set(results))),
            ("Network test accuracy (%) beside the thesis' Table 4.2",
             _accuracy_table(settings, results))]


def confidence_text(settings):
    """What the confidence scores are: the user's file, or how the synthetic ones are made."""
    if settings.extra.get("confidence") is not None:
        return (f"Per-image confidence from `{settings.extra['confidence']}` (the fraction of "
                f"observers who classified each image correctly, as Eberhardt et al. 2016).")
    synthetic = settings.extra["synthetic"]
    return (
        f"**Synthetic stand-in, not human data.** Eberhardt et al. (2016)'s scores are not "
        f"redistributable, so each of the {settings.dataset} test images is scored by "
        f"{synthetic['observers']} simulated observers: each sees the image plus white Gaussian "
        f"pixel noise (std {synthetic['noise']}, pixels in [0, 1]; numpy seed "
        f"{synthetic['seed']}) and answers the class whose template (the mean training image "
        f"of that class) is nearest; the confidence is the fraction of correct answers. The "
        f"images are dealt into {settings.extra['sets']} sets round-robin within each class. "
        f"`kerasbio.studies.readout_data.synthetic_confidence` makes the same table, in the "
        f"CSV format of `--confidence`. Correlations with it measure how well a read-out's "
        f"probabilities track this observer's difficulty, not human behaviour; and since the "
        f"observer works on pixels and digits are nearly linearly separable from pixels, the "
        f"thesis' trends over depth (ImageNet images, animal vs non-animal) need not appear.")


def _layer_table(table):
    names = layer_names(sorted(table["depth"].unique()))
    lines = ["| network | layer | accuracy | correlation | sets |", "|---|---|---|---|---|"]
    for network in [n for n in NETWORKS if n in set(table["network"])]:
        for row in table[table["network"] == network].itertuples():
            lines.append(f"| {LABELS[network]} | {names[row.depth]} | {row.accuracy:.3f} ± "
                         f"{row.accuracy_se:.3f} | {row.correlation:.3f} ± "
                         f"{row.correlation_se:.3f} | {row.sets} |")
    return "\n".join(lines)


def _tests_table(table):
    lines = ["| comparison | mean difference in r | t | p | pairs | paper p |",
             "|---|---|---|---|---|---|"]
    for other in ("map", "mc_training"):
        test = paired_test(table, "mc_training_testing", other)
        if test is None:
            continue
        lines.append(f"| MC training and testing vs {LABELS[other]} | {test[0]:+.4f} | "
                     f"{test[1]:.2f} | {test[2]:.2g} | {test[3]} | {PAPER_P[other]:.3g} |")
    return "\n".join(lines)


def network_accuracy(results):
    """Network test accuracy per network, mean and sd over seeds (NaN sd for one seed)."""
    values = {}
    for network, training, column in (("map", "map", "test_accuracy_expectation"),
                                      ("mc_training", "sampling", "test_accuracy_expectation"),
                                      ("mc_training_testing", "sampling", "test_accuracy_mc")):
        rows = results[results["training"] == training]
        if column in rows and rows[column].notna().any():
            values[network] = (float(rows[column].mean()), float(rows[column].std(ddof=1)))
    return values


def _accuracy_table(settings, results):
    values = network_accuracy(results)
    lines = [f"Paper: ImageNet and Eco-set CNNs; here: {settings.dataset}, test split.", "",
             "| network | paper ImageNet | paper Eco-set | here |", "|---|---|---|---|"]
    for network, (mean, sd) in values.items():
        imagenet, ecoset = TABLE_4_2[network]
        spread = "" if np.isnan(sd) else f" ± {100 * sd:.2f}"
        lines.append(f"| {LABELS[network]} | {imagenet:.2f} | {ecoset:.2f} | "
                     f"{100 * mean:.2f}{spread} |")
    return "\n".join(lines)


def findings(settings, results):
    """Paper-vs-here rows: the correlation tests, the depth trends and Table 4.2's order."""
    table = per_set(results)
    if table.empty:
        return []
    rows = [_correlation_finding(table, other) for other in ("map", "mc_training")]
    layered = summary(results)
    rows += [_depth_finding(layered, metric) for metric in METRICS]
    rows.append(_softmax_finding(layered))
    rows.append(_deep_gap_finding(table))
    rows.append(_accuracy_finding(results))
    return rows


def _correlation_finding(table, other):
    test = paired_test(table, "mc_training_testing", other)
    here = ("missing" if test is None else
            f"mean difference in r {test[0]:+.4f}, t = {test[1]:.2f}, p = {test[2]:.2g} over "
            f"{test[3]} layer x set pairs")
    return Finding(
        f"Read-outs of the MC training and testing network correlate better with confidence "
        f"than those of the {LABELS[other]} network.",
        f"significantly higher (paired t-test across all layers and five sets, "
        f"p = {PAPER_P[other]:.3g})", here,
        None if test is None else bool(test[0] > 0 and test[2] < SIGNIFICANCE))


def _hidden(layered):
    return layered[layered["depth"] < layered["depth"].max()]


def _depth_finding(layered, metric):
    parts, rising = [], []
    for network in [n for n in NETWORKS if n in set(layered["network"])]:
        rows = _hidden(layered[layered["network"] == network])
        rho = scipy.stats.spearmanr(rows["depth"], rows[metric]).statistic
        parts.append(f"{LABELS[network]} {rows[metric].iloc[0]:.3f} (conv1) -> "
                     f"{rows[metric].iloc[-1]:.3f} (conv{rows['depth'].iloc[-1]}), "
                     f"Spearman rho {rho:+.2f}")
        rising.append(rho > 0)
    return Finding(
        f"Read-out {metric} generally increases with the depth of the hidden layer.",
        "increases with depth (Fig. 4.2; as Eberhardt et al. 2016 found); values only in the "
        "figure", "; ".join(parts), bool(all(rising)) if rising else None)


def _softmax_finding(layered):
    parts, drops = [], []
    top = layered["depth"].max()
    for network in [n for n in NETWORKS if n in set(layered["network"])]:
        rows = layered[layered["network"] == network].set_index("depth")
        for metric in METRICS:
            last_hidden, softmax = rows.loc[top - 1, metric], rows.loc[top, metric]
            parts.append(f"{LABELS[network]} {metric} {last_hidden:.3f} -> {softmax:.3f}")
            drops.append(softmax < last_hidden)
    return Finding(
        "Accuracy and correlation drop at the softmax layer.",
        "both decrease at the softmax layer (Fig. 4.2)",
        "last hidden layer -> softmax: " + "; ".join(parts),
        bool(np.mean(drops) > 0.5) if drops else None)


def _deep_gap_finding(table):
    depths = sorted(table["depth"].unique())[:-1]
    deep = [d for d in depths if d > np.median(depths)]
    significant = significant_layers(table, "mc_training")
    gaps = {}
    for name, part in (("shallow", [d for d in depths if d not in deep]), ("deep", deep)):
        wide = table[table["depth"].isin(part)].pivot_table(
            index=["depth", "set"], columns="network", values="correlation")
        if {"mc_training", "mc_training_testing"} <= set(wide.columns):
            gaps[name] = float((wide["mc_training_testing"] - wide["mc_training"]).mean())
    verdict = (None if len(gaps) < 2 else
               bool(gaps["deep"] > gaps["shallow"] and any(d in deep for d in significant)))
    names = layer_names(sorted(table["depth"].unique()))
    return Finding(
        "Sampling at test time helps most at deep hidden layers (the gap to MC training "
        "widens with depth).",
        "significant at the deep hidden layers (Fig. 4.2B, paired t-tests per layer across "
        "sets, uncorrected)",
        f"layers with MC training and testing > MC training at p < 0.05: "
        f"{[names[d] for d in significant] or 'none'}; mean gap in r: "
        + ", ".join(f"{name} layers {gap:+.4f}" for name, gap in gaps.items()), verdict)


def _accuracy_finding(results):
    values = network_accuracy(results)
    ordered = [network for network in NETWORKS if network in values]
    here = ", ".join(f"{LABELS[n]} {100 * values[n][0]:.2f}%" for n in ordered)
    verdict = None if len(ordered) < 3 else bool(
        values["map"][0] < values["mc_training"][0] < values["mc_training_testing"][0])
    return Finding(
        "Network accuracy: MAP < MC training < MC training and testing.",
        "ImageNet 52.07 < 55.43 < 57.04%, Eco-set 49.09 < 53.36 < 55.06% (Table 4.2)",
        here or "missing", verdict)
