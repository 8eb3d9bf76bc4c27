"""McNemar tests comparing classifiers on the same test examples (Edwards 1948), as used by
McClure & Kriegeskorte 2016 (Tables 2 and 5) to compare networks.

Only the discordant examples matter: `b` examples classified correctly by model A only and `c`
by model B only. Under the null hypothesis (equal accuracy) `b ~ Binomial(b + c, 1/2)`.
"""

import collections

import numpy as np
import pandas as pd
import scipy.stats

from kerasbio._core.validation import (
    invalid_argument,
    validate_array,
    validate_bool,
    validate_int,
    validate_range,
)

McNemarResult = collections.namedtuple("McNemarResult", ["statistic", "pvalue"])


def _labels(name, values):
    """Integer labels `(n,)` from `(n,)` or `(n, 1)` values that must be whole numbers."""
    labels = validate_array(name, values, ndim=(1, 2))
    labels = labels.reshape(labels.shape[0], -1)
    if labels.shape[1] != 1 or np.any(labels != np.round(labels)):
        raise ValueError(f"Invalid value received for argument `{name}`. Expected integer class "
                         f"labels of shape (n,) or (n, 1). Received: an array of shape "
                         f"{np.shape(values)} with values such as {labels.ravel()[:3]}")
    return labels[:, 0].astype("int64")


def _predicted_labels(name, predictions):
    """Labels from labels `(n,)`, class scores `(n, classes)` (argmax) or a binary model's
    probabilities of the positive class `(n, 1)` (class 1 where p > 0.5)."""
    predictions = validate_array(name, predictions, ndim=(1, 2))
    if predictions.ndim == 1:
        return _labels(name, predictions)
    if predictions.shape[1] > 1:
        return predictions.argmax(axis=-1)
    if predictions.min() < 0 or predictions.max() > 1:
        raise ValueError(
            f"Invalid value received for argument `{name}`. Expected a binary model's "
            f"probabilities in [0, 1] for shape (n, 1). Received values from "
            f"{predictions.min():.4g} to {predictions.max():.4g}; for logits apply a sigmoid.")
    return (predictions[:, 0] > 0.5).astype("int64")


def _correct(y_true, predictions, argument):
    """Boolean vector of correct predictions."""
    labels = _labels("y_true", y_true)
    predicted = _predicted_labels(argument, predictions)
    if predicted.shape != labels.shape:
        raise ValueError(
            f"`{argument}` must hold one prediction per example of `y_true`: expected "
            f"{labels.shape[0]} examples, received shape {np.shape(predictions)}.")
    return predicted == labels


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
        y_true: Integer labels, shape `(n,)` or `(n, 1)`.
        pred_a, pred_b: Predicted labels `(n,)`, class scores `(n, classes)` (argmax), or a
            binary model's probabilities `(n, 1)` (class 1 where p > 0.5).
        exact: Use the exact binomial test (the paper's choice).

    Returns:
        `McNemarResult(statistic, pvalue)`.
    """
    validate_bool("exact", exact)
    return mcnemar_from_counts(*discordant_counts(y_true, pred_a, pred_b), exact=exact)


def mcnemar_from_counts(b, c, exact=True):
    """`mcnemar` from the discordant counts: `b` examples only model A classifies correctly,
    `c` only model B (e.g. as stored by a study's trials)."""
    b, c = validate_int("b", b, low=0), validate_int("c", c, low=0)
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
        predictions: Dict `{model name: predictions}`, each as `mcnemar`'s `pred_a`.
        exact: Exact binomial test, else chi-square with continuity correction.
        significance: Level below which an arrow is drawn.
        formatted: Return strings with arrows; `False` returns the float p-values.

    Returns:
        A square `pandas.DataFrame` indexed by model name.
    """
    if not isinstance(predictions, dict) or len(predictions) < 2:
        raise invalid_argument("predictions", "a dict of two or more models' predictions",
                               predictions)
    validate_range("significance", significance, 0, 1, low_open=True, high_open=True)
    validate_bool("formatted", formatted)
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
