import numpy as np
import pytest
import scipy.stats
from statsmodels.stats.contingency_tables import mcnemar as statsmodels_mcnemar

from kerasbio.stats import discordant_counts, mcnemar, mcnemar_from_counts, mcnemar_table


def predictions_from_table(both, a_only, b_only, neither):
    """Labels and two prediction vectors realising a 2x2 correct/incorrect table."""
    n = both + a_only + b_only + neither
    y = np.zeros(n, dtype=int)
    correct_a = np.r_[np.ones(both + a_only), np.zeros(b_only + neither)].astype(bool)
    correct_b = np.r_[np.ones(both), np.zeros(a_only), np.ones(b_only),
                      np.zeros(neither)].astype(bool)
    return y, np.where(correct_a, 0, 1), np.where(correct_b, 0, 2)


TABLES = [(50, 10, 3, 7), (40, 12, 12, 5), (100, 0, 6, 2), (30, 25, 9, 1), (5, 1, 0, 0)]


@pytest.mark.parametrize("table", TABLES)
def test_exact_pvalue_equals_scipy_binomtest_and_statsmodels(table):
    y, pred_a, pred_b = predictions_from_table(*table)
    b, c = table[1], table[2]
    result = mcnemar(y, pred_a, pred_b, exact=True)
    assert result.pvalue == pytest.approx(scipy.stats.binomtest(b, b + c, 0.5).pvalue, rel=1e-12)
    reference = statsmodels_mcnemar([[table[0], b], [c, table[3]]], exact=True)
    assert result.statistic == reference.statistic
    assert result.pvalue == pytest.approx(reference.pvalue, rel=1e-12)


@pytest.mark.parametrize("table", TABLES)
def test_chi_square_with_continuity_correction_equals_statsmodels(table):
    y, pred_a, pred_b = predictions_from_table(*table)
    result = mcnemar(y, pred_a, pred_b, exact=False)
    reference = statsmodels_mcnemar([[table[0], table[1]], [table[2], table[3]]],
                                    exact=False, correction=True)
    assert result.statistic == pytest.approx(reference.statistic, rel=1e-12)
    assert result.pvalue == pytest.approx(reference.pvalue, rel=1e-12)


def test_no_discordant_examples_gives_p_one_and_scores_are_argmaxed():
    y = np.array([0, 1, 2, 1])
    scores = np.eye(3)[y]
    assert mcnemar(y, scores, y) == (0.0, 1.0)
    assert discordant_counts(y, scores, np.array([0, 0, 2, 1])) == (1, 0)


def test_mismatched_lengths_raise_with_the_argument_name():
    with pytest.raises(ValueError, match="`pred_b`"):
        mcnemar(np.zeros(5), np.zeros(5), np.zeros(4))


def test_table_arrows_point_to_the_better_model():
    y, good, bad = predictions_from_table(50, 30, 2, 5)  # good: 80 correct, bad: 52 correct
    table = mcnemar_table(y, {"good": good, "bad": bad, "same": good})
    assert table.loc["good", "bad"].endswith("←")
    assert table.loc["bad", "good"].endswith("↑")
    assert table.loc["good", "same"] == "1.00"
    assert table.loc["good", "good"] == "—"
    pvalues = mcnemar_table(y, {"good": good, "bad": bad}, formatted=False)
    assert pvalues.loc["good", "bad"] == pytest.approx(mcnemar(y, good, bad).pvalue)


def test_binary_model_probabilities_are_thresholded_not_argmaxed():
    """Issue 10: (n, 1) outputs of a sigmoid model argmaxed to class 0 and gave p = 1."""
    y, labels_a, labels_b = predictions_from_table(20, 25, 0, 5)
    y = (y == 0).astype(int)  # class 1 is the true class
    labels_a, labels_b = (labels_a == 0).astype(int), (labels_b == 0).astype(int)
    probabilities_a = np.where(labels_a == 1, 0.9, 0.2)[:, None]
    probabilities_b = np.where(labels_b == 1, 0.7, 0.4)[:, None]
    expected = mcnemar(y, labels_a, labels_b)
    assert expected.pvalue < 1e-5
    assert mcnemar(y, probabilities_a, probabilities_b) == expected


@pytest.mark.parametrize("predictions, fragment", [
    (np.full((4, 1), 2.5), "apply a sigmoid"),
    (np.array([0.2, 0.7, 0.1, 0.9]), "integer class labels"),
    (np.array([0, 1, np.nan, 1]), "finite"),
])
def test_predictions_that_are_not_labels_or_probabilities_are_refused(predictions, fragment):
    with pytest.raises(ValueError, match=fragment):
        mcnemar(np.array([0, 1, 0, 1]), predictions, np.array([0, 1, 1, 1]))


@pytest.mark.parametrize("table", TABLES)
def test_counts_give_the_same_test_as_predictions(table):
    y, pred_a, pred_b = predictions_from_table(*table)
    for exact in (True, False):
        assert mcnemar_from_counts(table[1], table[2], exact=exact) == mcnemar(
            y, pred_a, pred_b, exact=exact)


@pytest.mark.parametrize("b, c", [(-1, 3), (2.5, 3), (3, float("nan")), (True, 2)])
def test_counts_that_are_not_whole_non_negative_numbers_are_refused(b, c):
    with pytest.raises(ValueError, match="Invalid value received for argument `[bc]`"):
        mcnemar_from_counts(b, c)
