"""Tables (thesis layout, the thesis' values beside ours), figures and findings of the robustness
study (Dutta 2019, chs. 2-4)."""

import os
import re

import numpy as np
import pandas as pd

from kerasbio._core.plotting import new_figure, save_png
from kerasbio.studies import robustness_mixup_report as mixup_report
from kerasbio.studies import robustness_reference as reference
from kerasbio.studies.base import Finding, experiment_rows
from kerasbio.studies.results import mean_sd
from kerasbio.studies.robustness import CONDITIONS, METHODS, PARADIGMS, SEVERITIES
from kerasbio.studies.robustness_models import DUTTA_LAYERS

LABELS = {"baseline": "Baseline", "ug": "UG", "up": "UP", "cg": "CG", "cp": "CP",
          "spatial_dropout": "SpatialDropout", "spatial_dropout_mod": "SpatialDropoutMod",
          "dropblock": "DropBlock", "dropblock_random": "DropBlockRandom",
          "corrdrop": "CorrDrop", **mixup_report.LABELS}
COLORS = dict(zip(CONDITIONS, ("black", "tab:blue", "tab:cyan", "tab:red", "tab:orange")))
COLORS.update(zip(METHODS, ("tab:blue", "tab:cyan", "black", "tab:green", "tab:red")))
OCCLUSION_ROWS = ("clean", "central", "checkerboard", "horizontal_bars", "vertical_bars",
                  "horizontal_half", "vertical_half")
CORRELATED = ("cg", "cp")
CHAPTER2_TABLES = {1: (reference.TABLE_2_3, reference.TABLE_2_5),
                   2: (reference.TABLE_2_4, reference.TABLE_2_6)}
CHAPTER4_TABLES = dict(zip((1, 3, 5, 6, 8), (reference.TABLE_4_1, reference.TABLE_4_2,
                                            reference.TABLE_4_3, reference.TABLE_4_4,
                                            reference.TABLE_4_5)))


def corruption_names(results):
    """The corruptions evaluated (those with accuracy columns per severity), sorted."""
    return sorted({match.group(1) for name in results.columns
                   if (match := re.fullmatch(r"accuracy_(.+)_s\d", name)) and match.group(1)
                   != "mean"})


def correlation_layers(rows):
    """The layers whose correlation analysis `rows` hold, sorted."""
    return sorted({match.group(1) for column in rows.columns
                   if (match := re.fullmatch(r"corr_(conv\d+)_max", column))})


def with_corruption_accuracies(results):
    """`results` plus `accuracy_<corruption>`: its accuracy averaged over the severities (the
    thesis' CIFAR-10-C tables)."""
    extra = {f"accuracy_{name}": results[[f"accuracy_{name}_s{s}" for s in SEVERITIES
                                          if f"accuracy_{name}_s{s}" in results]].mean(axis=1)
             for name in corruption_names(results)}
    return results.assign(**extra)


def summary(results, number):
    """Mean and sd over seeds of every accuracy, per condition (and layer in experiment 3)."""
    part = experiment_rows(results, number)
    if part.empty:
        return part
    part = with_corruption_accuracies(part)
    columns = [name for name in part.columns if name.startswith(("accuracy_", "corr_"))
               and part[name].notna().any()]
    return mean_sd(part, ["condition", "layer"], columns)


def _value(summary_rows, condition, row, layer=1):
    match = summary_rows[(summary_rows["condition"] == condition)
                         & (summary_rows["layer"].astype(int) == layer)]
    column = f"accuracy_{row}"
    if match.empty or column not in match or pd.isna(match[column].iloc[0]):
        return None
    return float(match[column].iloc[0]), float(match[f"{column}_sd"].iloc[0])


def _paper(table, columns, condition, row):
    if row not in table:
        return None
    values = table[row]
    index = columns.index(condition)
    return values[2 * index], values[2 * index + 1]


def thesis_table(summary_rows, rows, columns, paper_table, paper_columns, layer=1):
    """Markdown in the thesis' layout: a row per test set, a column per condition, accuracy (%)
    mean ± sd over seeds, the row's best in bold, the thesis' value in brackets."""
    present = [c for c in columns if _value(summary_rows, c, "clean", layer) is not None]
    lines = ["| test set | " + " | ".join(LABELS[c] for c in present) + " |",
             "|---|" + "---|" * len(present)]
    for row in rows:
        values = {c: _value(summary_rows, c, row, layer) for c in present}
        if all(value is None for value in values.values()):
            continue
        best = max(value[0] for value in values.values() if value is not None)
        cells = []
        for c in present:
            value, paper = values[c], _paper(paper_table, paper_columns, c, row)
            text = "-" if value is None else f"{100 * value[0]:.1f} ± {100 * value[1]:.1f}"
            if value is not None and value[0] == best:
                text = f"**{text}**"
            cells.append(text + ("" if paper is None else f" [{paper[0]:.1f} ± {paper[1]:.1f}]"))
        lines.append(f"| {row.replace('_', ' ')} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def tables(settings, results):
    """Tables 2.3-2.6 and 4.1-4.5 in the thesis' layout, the per-severity means, Table 3.2."""
    sections = []
    note = (" Quick run on 8x8 digits: the thesis' CIFAR-10 values (in brackets) compare in "
            f"pattern only, and with {settings.seeds} seeds a difference within the sds is no "
            "evidence." if settings.quick else "")
    for number, dropout in ((1, "without"), (2, "with")):
        rows = summary(results, number)
        if rows.empty:
            continue
        occlusion, corruption = CHAPTER2_TABLES[number]
        corruptions = ["clean", *corruption_names(results), "mean"]
        columns = reference.CHAPTER_2_COLUMNS
        sections.append((f"Occlusions, {dropout} dropout (Table 2.{2 + number})",
                         "Accuracy (%), mean ± sd over seeds; best per row in bold; [thesis]."
                         + note + "\n\n"
                         + thesis_table(rows, OCCLUSION_ROWS, CONDITIONS, occlusion, columns)))
        sections.append((f"Corruptions, {dropout} dropout (Table 2.{4 + number})",
                         "Accuracy (%) averaged over severities 1-5." + note + "\n\n"
                         + thesis_table(rows, corruptions, CONDITIONS, corruption, columns)))
        sections.append((f"Corruption accuracy per severity, {dropout} dropout",
                         thesis_table(rows, ["clean", *(f"mean_s{s}" for s in SEVERITIES),
                                             "mean"], CONDITIONS, {}, columns)))
    rows = summary(results, 3)
    for layer in sorted({int(layer) for layer in rows.get("layer", [])}):
        table = CHAPTER4_TABLES.get(layer, {})
        corruptions = ["clean", *corruption_names(results), "mean"]
        sections.append((f"Structured dropout at layer {layer} ({DUTTA_LAYERS[layer]}; Table 4."
                         f"{list(CHAPTER4_TABLES).index(layer) + 1})",
                         "Accuracy (%), severities averaged." + note + "\n\n" + thesis_table(
                             rows, corruptions, METHODS, table, reference.CHAPTER_4_COLUMNS,
                             layer)))
    missing = _missing_corruptions(settings, results)
    if missing:
        sections.append(("Corruptions not evaluated", missing))
    correlation = _correlation_table(results)
    if correlation:
        sections.append(("Correlations of the trained networks' units (Table 3.2 summary)",
                         correlation))
    rows = summary(results, 4)
    mixup = mixup_report.section(rows, correlation_layers(rows), settings.quick)
    return sections + ([mixup] if mixup else [])


def _missing_corruptions(settings, results):
    """The thesis' 19 corruptions and the registry's that this run has no accuracy for, with the
    reason `evaluation_sets` records for a registry corruption on an image of the run's shape."""
    from kerasbio.data import corruptions
    from kerasbio.studies.robustness import CIFAR10_C, evaluation_sets

    evaluated = set(corruption_names(results))
    if not evaluated:
        return ""
    shape = (8, 8, 1) if settings.dataset == "digits" else (32, 32, 3)
    lines = []
    for name in sorted(set(corruptions()) - evaluated):
        (probe,) = [part for part in evaluation_sets(np.zeros((1, *shape), "float32"),
                                                     occlusions=(), corruptions=(name,),
                                                     severities=(1,))
                    if part.kind == "corruption"]
        lines.append(f"- {name}: " + (probe.skipped or "left out by the run's settings"))
    lines += [f"- {name}: not in `kerasbio.data.corruptions()` yet"
              for name in sorted(set(CIFAR10_C) - set(corruptions()) - evaluated)]
    return "\n".join(lines)


def _correlation_table(results):
    lines = ["Off-diagonal entries of Sigma' (Eq. 3.2) after each layer's activation, mean ± sd "
             "over seeds. Thesis (VGG-11 on CIFAR-10, vanilla): max 0.22-0.43, min -0.05-0.03, "
             "mean 0.03-0.10, std 0.02-0.06; Eq. 2.14's induced correlations: max 0.27, mean "
             "0.14-0.19.", "", "| experiment | condition | layer | max | min | mean | std |",
             "|---|---|---|---|---|---|---|"]
    found = False
    for number in (1, 2, 3):
        rows = summary(results, number)
        for name in correlation_layers(rows):
            for _, row in rows.iterrows():
                found = True
                stats = " | ".join(f"{row[f'corr_{name}_{stat}']:.2f} ± "
                                   f"{row[f'corr_{name}_{stat}_sd']:.2f}"
                                   for stat in ("max", "min", "mean", "std"))
                lines.append(f"| {number} | {LABELS[row['condition']]} | {name} | {stats} |")
    return "\n".join(lines) if found else ""


def figures(settings, results, directory):
    """Occlusion bars, corruption-severity curves and the correlation contours as PNGs."""
    made = []
    for draw in (_figure_examples, _figure_occlusions, _figure_corruptions, _figure_correlation,
                 _figure_mixup_correlation):
        drawn = draw(settings, results)
        if drawn is not None:
            name, caption, figure = drawn
            save_png(figure, os.path.join(directory, name))
            made.append((name, caption))
    return made


def _panels(results):
    """`(title, summary rows, conditions, layer)` per figure panel, in the thesis' order."""
    panels = []
    for number, title in ((1, "All-CNN-C, no dropout"), (2, "All-CNN-C, with dropout")):
        rows = summary(results, number)
        if not rows.empty:
            panels.append((title, rows, CONDITIONS, 1))
    rows = summary(results, 3)
    for layer in sorted({int(layer) for layer in rows.get("layer", [])}):
        panels.append((f"VGG-11, dropout at layer {layer}", rows, METHODS, layer))
    return panels


def _figure_examples(settings, results):
    """One test image under each occlusion and each evaluated corruption at severities 1-5 (as
    the thesis' Figs. 2.4-2.6), computed here with `kerasbio.data`."""
    import kerasbio

    names = corruption_names(results)
    try:
        x, _ = kerasbio.data.load(settings.dataset, split="test", data_dir=settings.data_dir)
    except (ValueError, OSError):
        return None
    image = x[:1]
    rows = [[("clean", image)] + [(kind.replace("_", " "), kerasbio.data.occlude(image, kind))
                                  for kind in kerasbio.data.OCCLUSIONS]]
    rows += [[(f"{name.replace('_', ' ')} {s}", kerasbio.data.corrupt(image, name, s, seed=s))
              for s in SEVERITIES] for name in names]
    figure = new_figure((1.3 * 7, 1.35 * len(rows)))
    axes = figure.subplots(len(rows), 7, squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for r, row in enumerate(rows):
        for c, (title, picture) in enumerate(row):
            axes[r, c].imshow(np.squeeze(picture[0]), cmap="gray", vmin=0, vmax=1)
            axes[r, c].set_title(title, fontsize=6)
    caption = ("The test sets on one test image: Dutta's six occlusions (Fig. 2.4, scaled to "
               "the image size) and each evaluated corruption at severities 1-5.")
    return "robustness_examples.png", caption, figure


def _figure_occlusions(settings, results):
    panels = [panel for panel in _panels(results) if panel[2] == CONDITIONS]
    if not panels:
        return None
    figure = new_figure((7.5 * len(panels), 4.2))
    axes = figure.subplots(1, len(panels), squeeze=False, sharey=True)[0]
    for ax, (title, rows, conditions, layer) in zip(axes, panels):
        present = [c for c in conditions if _value(rows, c, "clean", layer) is not None]
        width = 0.8 / len(present)
        for k, condition in enumerate(present):
            values = [_value(rows, condition, row, layer) or (np.nan, 0.0)
                      for row in OCCLUSION_ROWS]
            ax.bar(np.arange(len(OCCLUSION_ROWS)) + (k - (len(present) - 1) / 2) * width,
                   [100 * v[0] for v in values], width, yerr=[100 * v[1] for v in values],
                   capsize=2, color=COLORS[condition], label=LABELS[condition])
        ax.set_xticks(np.arange(len(OCCLUSION_ROWS)),
                      [row.replace("_", "\n") for row in OCCLUSION_ROWS], fontsize=8)
        ax.set(ylabel="accuracy (%)", title=title, ylim=(0, 100))
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize=8, ncol=len(CONDITIONS))
    caption = (f"Thesis Tables 2.3-2.4 as bars ({settings.dataset}): accuracy on the clean test "
               f"set and the six occlusions per layer-1 noise; mean ± sd over {settings.seeds} "
               f"seeds.")
    return "robustness_occlusions.png", caption, figure


def _figure_corruptions(settings, results):
    panels = _panels(results)
    if not panels or not corruption_names(results):
        return None
    figure = new_figure((4.6 * len(panels), 4.0))
    axes = figure.subplots(1, len(panels), squeeze=False, sharey=True)[0]
    steps = ["clean", *(f"mean_s{s}" for s in SEVERITIES)]
    for ax, (title, rows, conditions, layer) in zip(axes, panels):
        for condition in conditions:
            values = [_value(rows, condition, step, layer) for step in steps]
            if values[0] is None:
                continue
            ax.errorbar(range(len(steps)), [100 * v[0] for v in values],
                        [100 * v[1] for v in values], marker="o", ms=4, capsize=2,
                        color=COLORS[condition], label=LABELS[condition])
        ax.set(xlabel="corruption severity (0: clean test set)", ylabel="accuracy (%)",
               title=title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    caption = (f"Accuracy against corruption severity, averaged over the "
               f"{len(corruption_names(results))} corruptions evaluated "
               f"({', '.join(corruption_names(results))}); mean ± sd over seeds.")
    return "robustness_corruptions.png", caption, figure


def correlation_grid(rows, condition, name, layer=1):
    """The smoothed correlation `g(d, k)` of one condition, averaged over seeds, as a
    `(distance, similarity)` array (NaN where no unit pair lies near)."""
    match = rows[(rows["condition"] == condition) & (rows["layer"].astype(int) == layer)]
    pattern = re.compile(rf"corr_{name}_g(\d+)_(\d+)")
    cells = {tuple(int(i) for i in m.groups()): column for column in rows.columns
             if (m := pattern.fullmatch(column))}
    if match.empty or not cells:
        return None
    size = max(i for i, _ in cells) + 1
    grid = np.full((size, size), np.nan)
    for (i, j), column in cells.items():
        grid[i, j] = match[column].iloc[0]
    return grid


def _figure_correlation(settings, results):
    rows = summary(results, 1) if not experiment_rows(results, 1).empty else summary(results, 3)
    caption = ("Thesis Figs. 3.2-3.7 for the trained networks: kernel-smoothed correlation of "
               "units after each layer's activation against distance and kernel similarity "
               "(Eq. 3.6), mean over seeds; one colour scale; blank where no unit pair lies "
               "near.")
    return _correlation_contours(rows, (*CONDITIONS, *METHODS), "robustness_correlation.png",
                                 caption)


def _figure_mixup_correlation(settings, results):
    caption = ("Thesis Figs. 3.2-3.7 (experiment 4): kernel-smoothed correlation of VGG-11's "
               "units (Eq. 3.6) after vanilla, input-mixup and manifold-mixup training, mean "
               "over seeds; one colour scale for all panels, as Fig. 3.7.")
    return _correlation_contours(summary(results, 4), PARADIGMS,
                                 "robustness_correlation_mixup.png", caption)


def _correlation_contours(rows, conditions, filename, caption):
    """Contours of the smoothed correlation, a row per analysed layer, a column per condition."""
    if rows.empty:
        return None
    names = correlation_layers(rows)
    conditions = [c for c in conditions if c in set(rows["condition"])]
    layer = int(rows["layer"].iloc[0])
    grids = {(name, c): correlation_grid(rows, c, name, layer) for name in names
             for c in conditions}
    finite = np.concatenate([g[np.isfinite(g)] for g in grids.values() if g is not None])
    if not finite.size:
        return None
    levels = np.linspace(finite.min(), finite.max(), 15)
    figure = new_figure((3.3 * len(conditions) + 0.8, 2.9 * len(names)))
    axes = figure.subplots(len(names), len(conditions) + 1, squeeze=False,
                           gridspec_kw={"width_ratios": [1] * len(conditions) + [0.08]})
    for (r, name), (c, condition) in ((a, b) for a in enumerate(names)
                                       for b in enumerate(conditions)):
        ax, grid = axes[r, c], grids[name, condition]
        size = grid.shape[0]
        contour = ax.contourf(np.linspace(0, 1, size), np.linspace(-1, 1, size), grid.T,
                              levels=levels)
        ax.set(title=f"{LABELS[condition]}, {name}", xlabel="distance / map diagonal",
               ylabel="kernel similarity")
    figure.colorbar(contour, cax=axes[0, -1], label="smoothed correlation")
    for ax in axes[1:, -1]:
        ax.axis("off")
    return filename, caption, figure


def _best_counts(rows, sets, conditions, winners, layer=1):
    """How many of `sets` have their best condition among `winners`, of those where the
    conditions measured include a winner and another."""
    won = total = 0
    for row in sets:
        values = {c: _value(rows, c, row, layer) for c in conditions}
        values = {c: v[0] for c, v in values.items() if v is not None}
        if set(values) & set(winners) and set(values) - set(winners):
            total += 1
            won += max(values, key=values.get) in winners
    return won, total


def _beats(rows, sets, better, worse, layer=1):
    """How many of `sets` `better` scores above `worse` on, of those measured for both."""
    pairs = [(_value(rows, better, row, layer), _value(rows, worse, row, layer)) for row in sets]
    pairs = [(b[0], w[0]) for b, w in pairs if b is not None and w is not None]
    return sum(b > w for b, w in pairs), len(pairs)


def findings(settings, results):
    """Paper-vs-here rows for chapters 2, 4 and 3."""
    rows = []
    corruptions = corruption_names(results)
    paper_best = {1: ("5 of 6", "15 of 19"), 2: ("5 of 6", "14 of 19")}
    paper_cg = {1: "3 of 6 (clean 82.5 vs 83.6)", 2: "5 of 6 (clean 84.1 vs 84.3)"}
    for number, dropout in ((1, "without"), (2, "with")):
        part = summary(results, number)
        if part.empty:
            continue
        won, total = _best_counts(part, OCCLUSION_ROWS[1:], CONDITIONS, CORRELATED)
        rows.append(Finding(
            f"{dropout.capitalize()} dropout, the best model on most occlusion tests has "
            f"correlated noise (CG or CP).",
            f"{paper_best[number][0]} occlusions (Table 2.{2 + number})",
            f"{won} of {total}", None if not total else won > total / 2))
        beat, total = _beats(part, OCCLUSION_ROWS[1:], "cg", "baseline")
        clean = [_value(part, c, "clean") for c in ("cg", "baseline")]
        clean_text = ("" if None in clean else
                      f" (clean {100 * clean[0][0]:.1f} vs {100 * clean[1][0]:.1f})")
        rows.append(Finding(
            f"{dropout.capitalize()} dropout, correlated Gaussian noise beats the baseline on "
            f"occlusions.", paper_cg[number], f"{beat} of {total}{clean_text}",
            None if not total else beat >= total / 2))
        if corruptions:
            won, total = _best_counts(part, corruptions, CONDITIONS, CORRELATED)
            rows.append(Finding(
                f"{dropout.capitalize()} dropout, the best model on most corruptions has "
                f"correlated noise.", f"{paper_best[number][1]} corruptions (Table 2.{4 + number})",
                f"{won} of {total} corruptions evaluated",
                None if not total else won > total / 2))
    rows += _chapter4_findings(summary(results, 3), corruptions)
    rows += _correlation_findings(results)
    part = summary(results, 4)
    return rows + (mixup_report.findings(part, correlation_layers(part)) if not part.empty
                   else [])


def _chapter4_findings(part, corruptions):
    if part.empty or not corruptions:
        return []
    layers = sorted({int(layer) for layer in part["layer"]})
    paper_random = {1: 19, 3: 19, 5: 19, 6: 18, 8: 18}
    paper_mod = {1: 8, 3: 6, 5: 10, 6: 14, 8: 15}
    random = {layer: _beats(part, corruptions, "dropblock_random", "dropblock", layer)
              for layer in layers}
    mod = {layer: _beats(part, corruptions, "spatial_dropout_mod", "spatial_dropout", layer)
           for layer in layers}

    def text(counts):
        return "; ".join(f"layer {layer}: {won} of {total}" for layer, (won, total)
                         in counts.items())

    measured = [won / total for won, total in random.values() if total]
    ratios = [won / total for won, total in mod.values() if total]
    return [
        Finding("DropBlockRandom beats DropBlock on (nearly) every corruption at every layer.",
                "; ".join(f"layer {layer}: {paper_random[layer]} of 19" for layer in layers),
                text(random) + " (reproduced when at least 80% at every layer)",
                None if not measured else min(measured) >= 0.8),
        Finding("SpatialDropoutMod beats SpatialDropout on more corruptions in later layers.",
                "; ".join(f"layer {layer}: {paper_mod[layer]} of 19" for layer in layers),
                text(mod), None if len(ratios) < 2 else ratios[-1] > ratios[0]),
    ]


def _correlation_findings(results):
    rows = summary(results, 1)
    if rows.empty:
        rows = summary(results, 3)
    if rows.empty:
        return []
    names = correlation_layers(rows)
    parts, verdicts = [], []
    for name in names:
        grid = correlation_grid(rows, rows["condition"].iloc[0], name, int(rows["layer"].iloc[0]))
        by_distance = np.nanmean(grid, axis=1)
        defined = np.flatnonzero(np.isfinite(by_distance))
        by_similarity = np.nanmean(grid, axis=0)
        similar = np.flatnonzero(np.isfinite(by_similarity))
        if len(defined) < 2 or len(similar) < 2:
            continue
        near, far = by_distance[defined[0]], by_distance[defined[-1]]
        low, high = by_similarity[similar[0]], by_similarity[similar[-1]]
        parts.append(f"{name}: g {near:.2f} near -> {far:.2f} far; {low:.2f} at the lowest "
                     f"kernel similarity -> {high:.2f} at the highest")
        verdicts.append(near > far and high > low)
    if not parts:
        return []
    return [Finding("Unit correlations fall with distance and rise with kernel similarity.",
                    "both dependences in every VGG-11 layer (Figs. 3.2-3.6)",
                    f"{LABELS[rows['condition'].iloc[0]]} networks, " + "; ".join(parts),
                    all(verdicts))]
