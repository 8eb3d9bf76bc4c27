"""McNemar tests comparing classifiers on the same test examples (Edwards 1948), as used by
McClure & Kriegeskorte 2016 (Tables 2 and 5) to compare networks.

Only the discordant examples matter: `b` examples classified correctly by model A only and `c`
by model B only. Under the null hypothesis (equal accuracy) `b ~ Binomial(b + c, 1/2)`.
"""

import collections

import numpy as np
import pandas as pd
import scipy.stats

McNemarResult = collections.namedtuple("McNemarResult", ["statistic", "pvalue"])


def _correct(y_true, predictions, argument):
    """Boolean vector of correct predictions; (n, classes) scores are turned into labels."""
    predictions = np.asarray(predictions)
    if predictions.ndim == 2:
        predictions = predictions.argmax(axis=-1)
    y_true = np.asarray(y_true).reshape(-1)
    if predictions.shape != y_true.shape:
        raise ValueError(
            f"`{argument}` must hold one label (or one row of class scores) per example of "
            f"`y_true`: expected {y_true.shape[0]} examples, received shape {predictions.shape}.")
    return predictions == y_true


def discordant_counts(y_true, pred_a, pred_b):
    """(b, c): examples only model A classifies correctly, and only model B."""
    correct_a = _correct(y_true, pred_a, "pred_a")
    correct_b = _correct(y_true, pred_b, "pred_b")
    return int(np.sum(correct_a & ~correct_b)), int(np.sum(~correct_a & correct_b))


def mcnemar(y_true, pred_a, pred_b, exact=True):
    """McNemar test of equal accuracy of two classifiers on the same examples.

    Exact: statistic `min(b, c)`, two-sided binomial p-value
    `min(1, 2 P[Binomial(b + c, 1/2) <= min(b, c)])`. Otherwise the chi-square statistic with
    Edwards' continuity correction, `(|b - c| - 1)^2 / (b + c)`, on 1 degree of freedom.

    Args:
        y_true: Integer labels, shape `(n,)`.
        pred_a, pred_b: Predicted labels `(n,)` or class scores `(n, classes)`.
        exact: Use the exact binomial test (the paper's choice).

    Returns:
        `McNemarResult(statistic, pvalue)`.
    """
    b, c = discordant_counts(y_true, pred_a, pred_b)
    if b + c == 0:
        return McNemarResult(0.0, 1.0)
    if exact:
        smaller = min(b, c)
        pvalue = min(1.0, 2.0 * scipy.stats.binom.cdf(smaller, b + c, 0.5))
        return McNemarResult(float(smaller), float(pvalue))
    statistic = (abs(b - c) - 1.0) ** 2 / (b + c)
    return McNemarResult(float(statistic), float(scipy.stats.chi2.sf(statistic, df=1)))


def mcnemar_table(y_true, predictions, exact=True, significance=0.05, formatted=True):
    """Pairwise McNemar p-values between named models (McClure & Kriegeskorte 2016, Table 2).

    Formatted cells read `"0.01 ↑"`: where `p < significance` (uncorrected), an arrow points to
    the better model, `↑` to the column's model, `←` to the row's.

    Args:
        y_true: Integer labels `(n,)`.
        predictions: Dict `{model name: labels (n,) or class scores (n, classes)}`.
        exact: Exact binomial test, else chi-square with continuity correction.
        significance: Level below which an arrow is drawn.
        formatted: Return strings with arrows; `False` returns the float p-values.

    Returns:
        A square `pandas.DataFrame` indexed by model name.
    """
    names = list(predictions)
    pvalues = pd.DataFrame(np.ones((len(names), len(names))), index=names, columns=names)
    cells = pd.DataFrame("—", index=names, columns=names)
    for row in names:
        for column in names:
            if row == column:
                continue
            pvalue = mcnemar(y_true, predictions[row], predictions[column], exact=exact).pvalue
            row_only, column_only = discordant_counts(
                y_true, predictions[row], predictions[column])
            arrow = ("" if pvalue >= significance else " ↑" if column_only > row_only else " ←")
            pvalues.loc[row, column] = pvalue
            cells.loc[row, column] = f"{pvalue:.2f}{arrow}"
    return cells if formatted else pvalues
