"""Tables, figures and paper-vs-here findings of the RDL study (McClure & Kriegeskorte 2016)."""

import os

import numpy as np
import pandas as pd
import scipy.spatial.distance
import scipy.stats

from kerasbio._core.plotting import new_figure, save_png
from kerasbio.studies.results import format_mean_sd, mean_sd
from kerasbio.studies.tuner import project_directory

SIGNIFICANCE = 0.05
LABELS = {"baseline": "baseline", "teacher": "teacher", "finetuning": "fine-tuning",
          "deep_supervision": "deep supervision", "hints": "hints", "rdl": "RDL"}
# Table 3 (test error, %), and the baseline row of Tables 2 and 5: (p, better model).
PAPER_ERRORS = {
    "mnist": {"baseline": 0.63, "teacher": 0.56, "finetuning": 0.48, "deep_supervision": 0.55,
              "hints": 0.56, "rdl": 0.49},
    "cifar100": {"baseline": 30.68, "finetuning": 38.75, "deep_supervision": 29.46,
                 "hints": 29.37, "rdl": 28.77},
}
PAPER_VS_BASELINE = {
    "mnist": {"teacher": (0.38, None), "finetuning": (0.00, "finetuning"),
              "deep_supervision": (0.11, None), "hints": (0.34, None), "rdl": (0.01, "rdl")},
    "cifar100": {"finetuning": (0.00, "baseline"), "deep_supervision": (0.00, "deep_supervision"),
                 "hints": (0.00, "hints"), "rdl": (0.00, "rdl")},
}


def paper_dataset(settings):
    return "cifar100" if settings.dataset == "cifar100" else "mnist"


def conditions_in(results):
    from kerasbio.studies.rdl import CONDITIONS

    return [c for c in CONDITIONS if c in set(results["condition"])]


def rdm_layers(settings, results):
    """The layers with RDM correlations in `results`, input to output."""
    order = [*settings.extra["rdl_layers"], "softmax"]
    layers = [column[len("rdm_r_"):] for column in results.columns if column.startswith("rdm_r_")]
    return sorted(layers, key=lambda layer: order.index(layer) if layer in order else -1)


# --- McNemar (Tables 2 and 5) ----------------------------------------------------------------

def mcnemar_pairs(results, seed):
    """`{(a, b): (p, better or None)}` for every pair of conditions of `seed` with stored
    discordant counts (exact test; `better` where p < 0.05)."""
    from kerasbio.stats import mcnemar_from_counts

    pairs = {}
    for _, row in results[results["seed"] == seed].iterrows():
        for other in conditions_in(results):
            column = f"right_only_vs_{other}"
            if column not in row or pd.isna(row[column]):
                continue
            right, wrong = int(row[column]), int(row[f"wrong_only_vs_{other}"])
            p = mcnemar_from_counts(right, wrong).pvalue
            better = None if p >= SIGNIFICANCE else row["condition"] if right > wrong else other
            pairs[(row["condition"], other)] = pairs[(other, row["condition"])] = (p, better)
    return pairs


def mcnemar_table(results, seed):
    """The paper's layout: p-values, an arrow to the better model where p < 0.05 (`↑` the
    column's, `←` the row's); `n/a` where a pair was not tested."""
    pairs, names = mcnemar_pairs(results, seed), conditions_with_predictions(results)
    labels = [LABELS[name] for name in names]
    cells = pd.DataFrame("—", index=labels, columns=labels)
    for row in names:
        for column in names:
            if row != column:
                p, better = pairs.get((row, column), (None, None))
                arrow = "" if better is None else " ↑" if better == column else " ←"
                cells.loc[LABELS[row], LABELS[column]] = "n/a" if p is None else f"{p:.2f}{arrow}"
    return cells


def conditions_with_predictions(results):
    """Conditions tested on the student's test set (the teacher only when it shares it)."""
    tested = set()
    for column in results.columns:
        if column.startswith("right_only_vs_") and results[column].notna().any():
            tested |= {column[len("right_only_vs_"):]}
            tested |= set(results.loc[results[column].notna(), "condition"])
    return [c for c in conditions_in(results) if c in tested]


def significance_counts(results, first, second):
    """How many seeds find `first` significantly better than `second`, and the reverse."""
    seeds = sorted(results["seed"].unique())
    verdicts = [mcnemar_pairs(results, seed).get((first, second), (None, None)) for seed in seeds]
    tested = [v for v in verdicts if v[0] is not None]
    return (sum(better == first for _, better in tested),
            sum(better == second for _, better in tested), len(tested),
            [p for p, _ in tested])


def markdown(frame):
    lines = ["| | " + " | ".join(frame.columns) + " |", "|---" * (len(frame.columns) + 1) + "|"]
    lines += [f"| {index} | " + " | ".join(str(v) for v in row) + " |"
              for index, row in zip(frame.index, frame.values)]
    return "\n".join(lines)


# --- tables ----------------------------------------------------------------------------------

def tables(settings, results):
    sections = [("Test errors (Table 3 layout)", error_table(settings, results))]
    layers = rdm_layers(settings, results)
    if layers:
        reference = "target RDMs" if settings.extra.get("targets") else "teacher's RDMs"
        summary = mean_sd(results, ["condition"], [f"rdm_r_{layer}" for layer in layers])
        sections.append((f"RDM correlation with the {reference} (Pearson, per layer)",
                         format_mean_sd(summary, ["condition"],
                                        [f"rdm_r_{layer}" for layer in layers])))
    seeds = sorted(results["seed"].unique())
    if conditions_with_predictions(results):
        sections.append((f"Exact McNemar tests, seed {seeds[0]} (Tables 2 and 5 layout)",
                         markdown(mcnemar_table(results, seeds[0])) +
                         "\n\nArrows: p < 0.05 (uncorrected), pointing to the better model "
                         "(↑ the column's, ← the row's)."))
        if len(seeds) > 1 and "baseline" in conditions_with_predictions(results):
            sections.append(("Exact McNemar tests against the baseline, all seeds",
                             baseline_counts_table(results)))
    return sections


def percent_errors(results):
    """Mean and sd over seeds of the test error in %, per condition (`percent`, `percent_sd`)."""
    return mean_sd(results.assign(percent=100 * results["test_error"]), ["condition"],
                   ["percent"])


def error_table(settings, results):
    paper = PAPER_ERRORS[paper_dataset(settings)]
    summary = percent_errors(results)
    summary = summary.set_index("condition")
    lines = [f"| method | error here (%) | paper, {paper_dataset(settings)} (%) | seeds |",
             "|---|---|---|---|"]
    for condition in conditions_in(results):
        row = summary.loc[condition]
        note = " (on its own task)" if condition == "teacher" and condition not in \
            conditions_with_predictions(results) else ""
        reference = f"{paper[condition]:.2f}" if condition in paper else "—"
        lines.append(f"| {LABELS[condition]}{note} | {row['percent']:.2f} ± "
                     f"{row['percent_sd']:.2f} | {reference} | {int(row['seeds'])} |")
    return "\n".join(lines)


def baseline_counts_table(results):
    lines = ["| method | better than baseline (seeds) | worse (seeds) | p-values |",
             "|---|---|---|---|"]
    for condition in conditions_with_predictions(results):
        if condition != "baseline":
            better, worse, tested, ps = significance_counts(results, condition, "baseline")
            lines.append(f"| {LABELS[condition]} | {better}/{tested} | {worse}/{tested} | "
                         f"{', '.join(f'{p:.3f}' for p in ps)} |")
    return "\n".join(lines)


# --- findings --------------------------------------------------------------------------------

def findings(settings, results):
    from kerasbio.studies.base import Finding

    dataset = paper_dataset(settings)
    rows = [versus_baseline(results, condition, paper, dataset)
            for condition, paper in PAPER_VS_BASELINE[dataset].items()
            if {condition, "baseline"} <= set(conditions_with_predictions(results))]
    layers = [layer for layer in rdm_layers(settings, results)
              if layer in settings.extra["rdl_layers"] or settings.extra.get("targets")]
    if {"rdl", "baseline"} <= set(results["condition"]) and layers:
        gains = rdm_gains(results, layers)
        reference = "target" if settings.extra.get("targets") else "teacher"
        rows.append(Finding(
            f"RDL pulls the student's RDMs toward the {reference}'s",
            "Figs. 4, 6: RDL's RDMs lie closer to the teacher's than the baseline's",
            "r(RDL) - r(baseline): " + ", ".join(f"{k} {v:+.3f}" for k, v in gains.items()),
            all(gain > 0 for gain in gains.values())))
        if len(gains) > 1:
            deepest = list(gains)[-1]
            rows.append(Finding(
                "The pull is largest in the deepest RDL layer",
                "Fig. 4: most at the 3rd (FC) layer", f"largest at {max(gains, key=gains.get)}",
                max(gains, key=gains.get) == deepest))
    return rows


def versus_baseline(results, condition, paper, dataset):
    from kerasbio.studies.base import Finding

    p_paper, better_paper = paper
    better, worse, tested, ps = significance_counts(results, condition, "baseline")
    errors = results.groupby("condition")["test_error"].mean() * 100
    name = LABELS[condition]
    if better_paper == condition:
        claim, held = f"{name} beats the baseline significantly", better > tested / 2
    elif better_paper == "baseline":
        claim, held = f"{name} is significantly worse than the baseline", worse > tested / 2
    else:
        claim, held = f"{name} does not differ significantly from the baseline", \
            better + worse <= tested / 2
    here = (f"error {errors[condition]:.2f}% vs {errors['baseline']:.2f}%; significantly better "
            f"in {better}/{tested} seeds, worse in {worse}/{tested} "
            f"(p = {', '.join(f'{p:.3f}' for p in ps)})")
    return Finding(claim, f"McNemar p = {p_paper:.2f} ({dataset})", here,
                   held if tested else None)


def rdm_gains(results, layers):
    means = results.groupby("condition")[[f"rdm_r_{layer}" for layer in layers]].mean()
    return {layer: float(means.loc["rdl", f"rdm_r_{layer}"] -
                         means.loc["baseline", f"rdm_r_{layer}"]) for layer in layers}


# --- figures ---------------------------------------------------------------------------------

def figures(settings, results, histories, directory):
    from kerasbio.studies.rdl import artefact_directory

    artefacts = artefact_directory(project_directory(directory))
    made = [error_figure(settings, results, directory),
            curves_figure(results, histories, directory)]
    if rdm_layers(settings, results):
        made.append(similarity_figure(settings, results, directory))
    seed = int(sorted(results["seed"].unique())[0])
    if os.path.isdir(artefacts):
        made += [rdm_figure(settings, results, artefacts, seed, directory),
                 mds_figure(settings, results, artefacts, seed, directory)]
    return [item for item in made if item]


def error_figure(settings, results, directory):
    """Test error per method, here and in the paper; a teacher tested on its own task (another
    test set) is left out of the bars and named in the title."""
    conditions = conditions_with_predictions(results) or conditions_in(results)
    summary = percent_errors(results).set_index("condition")
    paper = PAPER_ERRORS[paper_dataset(settings)]
    figure = new_figure((9, 3.6))
    here, theirs = figure.subplots(1, 2)
    positions = np.arange(len(conditions))
    here.bar(positions, summary.loc[conditions, "percent"],
             yerr=summary.loc[conditions, "percent_sd"], capsize=3, color="tab:blue")
    title = f"Here ({settings.dataset}; mean ± sd over seeds)"
    if "teacher" in summary.index and "teacher" not in conditions:
        title += f"\nteacher on its own task: {summary.loc['teacher', 'percent']:.2f}%"
    here.set_title(title)
    known = [c for c in conditions if c in paper]
    theirs.bar([conditions.index(c) for c in known], [paper[c] for c in known], color="tab:gray")
    theirs.set_title(f"Paper, Table 3 ({paper_dataset(settings)})")
    for ax in (here, theirs):
        ax.set_xticks(positions, [LABELS[c] for c in conditions], rotation=30, ha="right")
        ax.set_ylabel("test error (%)")
    save_png(figure, os.path.join(directory, "errors.png"))
    return "errors.png", "Test error per method (Table 3), here and in the paper."


def curves_figure(results, histories, directory):
    if histories.empty or "accuracy" not in histories:
        return None
    merged = histories.merge(results[["trial_id", "condition"]], on="trial_id")
    figure = new_figure((9, 3.6))
    axes = figure.subplots(1, 2, sharey=True)
    for ax, key, title in zip(axes, ("accuracy", "val_accuracy"), ("training", "test")):
        for condition in conditions_in(results):
            part = merged[(merged["condition"] == condition)]
            if key in part and part[key].notna().any():
                curve = part.dropna(subset=[key]).groupby("epoch")[key].mean()
                ax.plot(curve.index, 100 * (1 - curve.values), marker=".", label=LABELS[condition])
        ax.set_xlabel("epoch")
        ax.set_ylabel(f"{title} error (%)")
        ax.set_title(f"{title.capitalize()} error (mean over seeds)")
    axes[1].tick_params(labelleft=True)
    axes[0].legend(fontsize=7)
    save_png(figure, os.path.join(directory, "curves.png"))
    return "curves.png", ("Training and test error through training (Figs. 2, 5; the teacher "
                          "is trained separately and not shown).")


def similarity_figure(settings, results, directory):
    layers = rdm_layers(settings, results)
    summary = mean_sd(results, ["condition"], [f"rdm_r_{layer}" for layer in layers])
    summary = summary.set_index("condition").loc[conditions_in(results)].reset_index()
    figure = new_figure((5.5, 3.8))
    ax = figure.add_subplot()
    for _, row in summary.iterrows():
        ax.errorbar(range(len(layers)), [row[f"rdm_r_{layer}"] for layer in layers],
                    yerr=[row[f"rdm_r_{layer}_sd"] for layer in layers], marker="o", capsize=3,
                    label=LABELS[row["condition"]])
    ax.set_xticks(range(len(layers)), layers)
    ax.set_xlabel("layer")
    reference = "target" if settings.extra.get("targets") else "teacher"
    ax.set_ylabel(f"RDM correlation with the {reference}")
    ax.set_title(f"Student RDMs vs the {reference}'s (mean ± sd over seeds)")
    ax.legend(fontsize=7)
    save_png(figure, os.path.join(directory, "rdm_similarity.png"))
    return "rdm_similarity.png", (f"Pearson correlation between each network's RDMs and the "
                                  f"{reference}'s, per layer (test images; Figs. 4 and 6 in "
                                  f"numbers).")


def load_rdms(artefacts, results, seed):
    """`({condition: npz contents}, inputs npz contents)` of one seed's stored RDMs."""
    from kerasbio.studies.rdl import INPUT_RDMS

    stored = {}
    for condition in conditions_in(results):
        path = os.path.join(artefacts, f"{condition}_seed{seed}_rdms.npz")
        if os.path.exists(path):
            with np.load(path) as archive:
                stored[condition] = dict(archive)
    with np.load(os.path.join(artefacts, INPUT_RDMS)) as archive:
        return stored, dict(archive)


def percentiles(triangle):
    """An RDM's upper triangle as rank percentiles (0-100), as the RSA toolbox shows RDMs."""
    ranks = scipy.stats.rankdata(triangle)
    return 100 * (ranks - 1) / max(len(ranks) - 1, 1)


def rdm_figure(settings, results, artefacts, seed, directory):
    from kerasbio.rsa.plots import plot_rdm
    from kerasbio.studies.rdl import SHOWN

    stored, inputs = load_rdms(artefacts, results, seed)
    layers = [*settings.extra["rdl_layers"], "softmax"]
    rows = [("inputs", {"pixels": inputs[SHOWN + "pixels"], "labels": inputs[SHOWN + "labels"]})]
    rows += [(LABELS[c], {layer: rdms[SHOWN + layer] for layer in layers if SHOWN + layer in rdms})
             for c, rdms in stored.items()]
    classes = inputs["shown_classes"]
    figure = new_figure((2.6 * len(layers), 2.4 * len(rows)))
    grid = figure.subplots(len(rows), len(layers), squeeze=False)
    for (name, panels), axes in zip(rows, grid):
        for ax, (panel, triangle) in zip(axes, panels.items()):
            plot_rdm(scipy.spatial.distance.squareform(percentiles(triangle)), labels=classes,
                     title=f"{name}: {panel}", ax=ax)
        for ax in axes[len(panels):]:
            ax.axis("off")
    save_png(figure, os.path.join(directory, "rdms.png"))
    return "rdms.png", (f"RDMs (Euclidean, shown as rank percentiles 0-100) of 10 test images "
                        f"per class (ticks: the student's class numbers), per layer and method, seed "
                        f"{seed}, with the pixel and label RDMs (Fig. 3).")


def mds_figure(settings, results, artefacts, seed, directory):
    from kerasbio import rsa
    from kerasbio.rsa.plots import plot_mds
    from kerasbio.studies.rdl import SAMPLES

    stored, inputs = load_rdms(artefacts, results, seed)
    names, groups, stacks = ["pixels", "labels"], ["inputs", "inputs"], [
        inputs[SAMPLES + "pixels"], inputs[SAMPLES + "labels"]]
    for condition, rdms in stored.items():
        for key, triangles in rdms.items():
            if key.startswith(SAMPLES):
                names.append(key[len(SAMPLES):])
                groups.append(LABELS[condition])
                stacks.append(triangles)
    squares = np.array([[scipy.spatial.distance.squareform(t) for t in stack]
                        for stack in stacks]).transpose(1, 0, 2, 3)
    figure = new_figure((7.5, 6))
    plot_mds(rsa.mds(squares), names, groups=groups, ax=figure.add_subplot(),
             title=f"MDS of RDMs (correlation distance, {len(squares)} samples, seed {seed})")
    save_png(figure, os.path.join(directory, "mds.png"))
    return "mds.png", ("MDS of the RDMs of every method and layer with the pixel and label "
                       "RDMs: 1 - Pearson correlation averaged over samples of 100 test images "
                       "(Figs. 4 and 6).")
