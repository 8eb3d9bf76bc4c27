"""Experiment 4 of the robustness study in the report: Table 3.2 (Dutta 2019) with and without
mixup, the thesis' values beside ours, and whether mixup raises the correlations."""

import numpy as np

from kerasbio.studies import robustness_reference as reference
from kerasbio.studies.robustness import PARADIGMS
from kerasbio.studies.robustness_models import DUTTA_LAYERS

STATS = ("max", "min", "mean", "std")
LABELS = {"vanilla": "Vanilla", "input_mixup": "Input mixup", "manifold_mixup": "Manifold mixup"}
THESIS_LAYERS = {name: number for number, name in DUTTA_LAYERS.items()}


def _measured(rows, name, stat):
    """Per paradigm, `(mean, sd)` over seeds of one statistic of one layer (absent: missing)."""
    column = f"corr_{name}_{stat}"
    if column not in rows:
        return {}
    return {row["condition"]: (float(row[column]), float(row[f"{column}_sd"]))
            for _, row in rows.iterrows() if np.isfinite(row[column])}


def table(rows, layers):
    """Markdown in Table 3.2's layout: per thesis layer and statistic a row, per paradigm a
    column, ours mean ± sd over seeds with the thesis' value in brackets, then the thesis'
    "linear exponential" (Eq. 2.14) column."""
    present = [p for p in PARADIGMS if p in set(rows["condition"])]
    lines = ["| layer | statistic | " + " | ".join(LABELS[p] for p in present)
             + " | linear exponential (thesis) |", "|---|---|" + "---|" * (len(present) + 1)]
    for name in layers:
        number = THESIS_LAYERS[name]
        paper = reference.TABLE_3_2.get(number, {})
        for stat in STATS:
            values = _measured(rows, name, stat)
            cells = []
            for paradigm in present:
                value = values.get(paradigm)
                text = "-" if value is None else f"{value[0]:.2f} ± {value[1]:.2f}"
                if stat in paper:
                    text += f" [{paper[stat][reference.TABLE_3_2_COLUMNS.index(paradigm)]:.2f}]"
                cells.append(text)
            linear = f"{paper[stat][-1]:.2f}" if stat in paper else "-"
            lines.append(f"| {number} ({name}) | {stat} | " + " | ".join(cells)
                         + f" | {linear} |")
    return "\n".join(lines)


def raised(rows, layers, stat):
    """`(raised, compared, text)`: of the (layer, mixup paradigm) pairs measured, how many have a
    `stat` higher than vanilla training's by more than the two sds over seeds combined, and the
    values as text."""
    count = total = 0
    parts = []
    for name in layers:
        values = _measured(rows, name, stat)
        if "vanilla" not in values:
            continue
        base, base_sd = values["vanilla"]
        for paradigm in PARADIGMS[1:]:
            if paradigm in values:
                value, sd = values[paradigm]
                total += 1
                count += value - base > np.hypot(sd, base_sd)
                parts.append(f"layer {THESIS_LAYERS[name]} {LABELS[paradigm].lower()} "
                             f"{value:.3f} ± {sd:.3f} vs {base:.3f} ± {base_sd:.3f}")
    return count, total, "; ".join(parts)


def thesis_raised(layers, stat):
    """The same count from Table 3.2 for the thesis layers of `layers`."""
    pairs = [reference.TABLE_3_2[THESIS_LAYERS[name]][stat] for name in layers
             if THESIS_LAYERS[name] in reference.TABLE_3_2]
    return sum(row[i] > row[0] for row in pairs for i in (1, 2)), 2 * len(pairs)


def section(rows, layers, quick):
    """The report's Table 3.2 section for experiment 4's summary `rows` and the convolutions
    `layers` analysed (None: not run)."""
    if rows.empty or not layers:
        return None
    note = (" Quick run: VGG-11 at reduced width on 8x8 digits, so the maps are 4x4 (layer 3) and "
            "2x2 (layer 5): the thesis' CIFAR-10 values compare in pattern only." if quick else "")
    text = ("Off-diagonal entries of Sigma' (Eq. 3.2) after each layer's activation, mean ± sd over "
            "seeds; [thesis]. Input mixup alpha 1.0 (Zhang et al.), manifold mixup alpha 2.0 at "
            "the input or after the first or second block (Verma et al.); the thesis gives "
            "neither." + note + "\n\n" + table(rows, layers))
    return "Correlations with and without mixup (Table 3.2)", text


def findings(rows, layers):
    """Paper-vs-here: mixup and manifold mixup raise the mean and peak correlations (3.2.4)."""
    from kerasbio.studies.base import Finding

    result = []
    for stat, words in (("mean", "average"), ("max", "peak")):
        count, total, text = raised(rows, layers, stat)
        paper, paper_total = thesis_raised(layers, stat)
        if total:
            result.append(Finding(
                f"Input and manifold mixup raise the {words} correlation of VGG-11's units over "
                "vanilla training (3.2.4).",
                f"{paper} of {paper_total} (layer, mixup) pairs higher (Table 3.2)",
                f"{count} of {total} higher beyond the seeds' sds: {text}", count > total / 2))
    return result
