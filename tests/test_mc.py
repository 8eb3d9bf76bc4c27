"""mc_predict and mc_sampling: agreement with separate stochastic passes, prefix reuse,
chunking, state restoration (McClure Eq. 3.3, Table 4.2)."""

import numpy as np
import pytest
import scipy.stats

import keras
import tensorflow as tf

import kerasbio
from kerasbio.layers import BernoulliDropout, GaussianDropout
from kerasbio.mc import deterministic_prefix_end, sample_chunks
from kerasbio.metrics import mutual_information, predictive_entropy

T = 400
RNG = np.random.default_rng(0)
X = RNG.normal(size=(6, 5)).astype("float32")


def head_dropout_model():
    """Dense -> BatchNorm -> (dropout) -> softmax: the stochastic part sits late."""
    keras.utils.set_random_seed(3)
    return keras.Sequential([
        keras.Input((5,)), keras.layers.Dense(8, activation="relu"),
        keras.layers.BatchNormalization(), BernoulliDropout(0.5, seed=1),
        keras.layers.Dense(3, activation="softmax")])


def skip_connection_model():
    """The output also reads the input, around the dropout: the input must be tiled."""
    keras.utils.set_random_seed(4)
    inputs = keras.Input((5,))
    hidden = GaussianDropout(0.5, seed=2)(keras.layers.Dense(8, activation="relu")(inputs))
    merged = keras.layers.Concatenate()([hidden, inputs])
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(merged))


class RowCounter(keras.layers.Layer):
    """Identity that counts the rows (examples x copies) passing through it."""

    def build(self, input_shape):
        self.rows = self.add_weight(shape=(), initializer="zeros", trainable=False)

    def call(self, inputs):
        self.rows.assign_add(keras.ops.cast(keras.ops.shape(inputs)[0], "float32"))
        return inputs


def separate_passes(model, samples=T):
    """The common loop: `samples` separate stochastic calls -> (N, T, C)."""
    with kerasbio.mc_sampling(model):
        draws = [keras.ops.convert_to_numpy(model(X, training=False)) for _ in range(samples)]
    return np.stack(draws, axis=1)


def test_prefix_ends_at_the_first_stochastic_layer():
    model = head_dropout_model()
    assert deterministic_prefix_end(model) is model.layers[2].input  # the dropout's input
    assert deterministic_prefix_end(skip_connection_model()) is None


@pytest.mark.parametrize("split,rows", [(True, len(X)), (False, 10 * len(X))])
def test_deterministic_prefix_runs_once_per_example(split, rows):
    counter = RowCounter()
    inputs = keras.Input((5,))
    hidden = counter(keras.layers.Dense(8)(inputs))
    stochastic = BernoulliDropout(0.5)(hidden)
    merged = stochastic if split else keras.layers.Concatenate()([stochastic, inputs])
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(merged))
    kerasbio.mc_predict(model, X, samples=10, verbose=0)
    assert float(counter.rows) == rows


@pytest.mark.parametrize("make_model", [head_dropout_model, skip_connection_model])
def test_mc_predict_agrees_with_separate_passes(make_model):
    model = make_model()
    reference = separate_passes(model)
    result = kerasbio.mc_predict(model, X, samples=T, return_draws=True, verbose=0)
    assert result.draws.shape == (len(X), T, 3)
    standard_error = np.sqrt((reference.var(1) + result.draws.var(1)) / T)
    assert np.all(np.abs(result.mean - reference.mean(1)) < 5 * standard_error + 1e-6)
    np.testing.assert_allclose(result.stddev, reference.std(1), rtol=0.25, atol=1e-3)


def test_samples_are_independent_between_copies_and_identical_examples():
    model = head_dropout_model()
    twins = np.repeat(X[:1], 2, axis=0)
    draws = kerasbio.mc_predict(model, twins, samples=50, return_draws=True, verbose=0).draws
    assert np.all(draws.std(axis=1) > 0)
    assert not np.allclose(draws[0], draws[1])


def test_statistics_follow_from_the_samples():
    result = kerasbio.mc_predict(head_dropout_model(), X, samples=20, return_draws=True,
                                 verbose=0)
    draws = result.draws.astype("float64")
    np.testing.assert_allclose(result.mean, draws.mean(1), rtol=1e-6)
    np.testing.assert_allclose(result.stddev, draws.std(1), rtol=1e-5, atol=1e-7)
    # Independent definitions: scipy's entropy (nats) of the mean, minus the mean entropy.
    entropy_of_mean = scipy.stats.entropy(draws.mean(1), axis=-1)
    mean_entropy = scipy.stats.entropy(draws, axis=-1).mean(1)
    np.testing.assert_allclose(result.predictive_entropy, entropy_of_mean, rtol=1e-5)
    np.testing.assert_allclose(result.mutual_information, entropy_of_mean - mean_entropy,
                               rtol=1e-4, atol=1e-7)
    assert np.all(result.mutual_information > 0)
    assert np.all(result.mutual_information <= result.predictive_entropy + 1e-9)


def test_entropy_and_mutual_information_of_hand_computed_draws():
    """Two draws [1, 0] and [0, 1]: mean [1/2, 1/2], entropy log 2, each draw certain (H = 0),
    so all of it is mutual information; two identical draws have none."""
    draws = np.array([[[1.0, 0.0], [0.0, 1.0]], [[0.5, 0.5], [0.5, 0.5]]])
    np.testing.assert_allclose(predictive_entropy(draws.mean(1)), [np.log(2), np.log(2)])
    np.testing.assert_allclose(mutual_information(draws), [np.log(2), 0.0], atol=1e-12)
    quarter = np.array([0.25, 0.75])
    np.testing.assert_allclose(predictive_entropy(quarter),
                               -(0.25 * np.log(0.25) + 0.75 * np.log(0.75)))


def test_no_sampling_inside_keeps_batchnorm_moving_statistics():
    """With zero-variance noise, the MC mean equals `predict` (training=False) exactly."""
    keras.utils.set_random_seed(5)
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(4),
                              keras.layers.BatchNormalization(), GaussianDropout(0.0),
                              keras.layers.Dense(3, activation="softmax")])
    model.layers[1].moving_mean.assign(np.full(4, 0.7, "float32"))
    result = kerasbio.mc_predict(model, X, samples=4, verbose=0)
    np.testing.assert_allclose(result.mean, model.predict(X, verbose=0), rtol=1e-5, atol=1e-7)


def test_chunks_bound_the_tiled_batch():
    assert sample_chunks(7, 3) == [3, 3, 1]
    assert sample_chunks(4, 100) == [4]
    result = kerasbio.mc_predict(head_dropout_model(), X, samples=7, max_batch=3,
                                 return_draws=True, verbose=0)
    assert result.draws.shape == (len(X), 7, 3)
    assert len({tuple(row) for row in result.draws[0].round(6)}) > 1


def test_from_logits_averages_softmax_probabilities():
    keras.utils.set_random_seed(6)
    model = keras.Sequential([keras.Input((5,)), BernoulliDropout(0.3), keras.layers.Dense(3)])
    result = kerasbio.mc_predict(model, X, samples=5, from_logits=True, return_draws=True,
                                 verbose=0)
    np.testing.assert_allclose(result.draws.sum(-1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(result.mean, result.draws.mean(1), rtol=1e-6)


def test_from_logits_mean_of_softmaxes_differs_from_softmax_of_mean_logits():
    """Draws with logits [4, 0] and [0, 0]: the mean of their softmaxes is
    [(s + 1/2) / 2, ...] with s = sigmoid(4) = 0.982, i.e. 0.741; the softmax of the mean logit
    [2, 0] would be sigmoid(2) = 0.881."""
    from kerasbio.mc import summarize

    logits = np.array([[[4.0, 0.0], [0.0, 0.0]]])
    result = summarize(logits, from_logits=True, return_draws=False)
    s = 1 / (1 + np.exp(-4.0))
    np.testing.assert_allclose(result.mean[0], [(s + 0.5) / 2, (1 - s + 0.5) / 2], rtol=1e-6)
    assert abs(result.mean[0, 0] - 1 / (1 + np.exp(-2.0))) > 0.05


def test_model_without_stochastic_layers_warns_and_is_deterministic():
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3, activation="softmax")])
    with pytest.warns(UserWarning, match="no kerasbio stochastic layer"):
        result = kerasbio.mc_predict(model, X, samples=4, verbose=0)
    np.testing.assert_allclose(result.mean, model.predict(X, verbose=0))
    assert np.all(result.stddev == 0) and np.allclose(result.mutual_information, 0)


def test_mc_sampling_switches_predict_and_restores_even_when_the_body_raises():
    model = head_dropout_model()
    dropout = model.layers[2]
    deterministic = model.predict(X, verbose=0)  # compiles predict with mc off
    with kerasbio.mc_sampling(model):
        assert dropout.mc is True
        assert not np.allclose(model.predict(X, verbose=0), deterministic)
    assert dropout.mc is False
    np.testing.assert_array_equal(model.predict(X, verbose=0), deterministic)
    with pytest.raises(RuntimeError):
        with kerasbio.mc_sampling(model):
            raise RuntimeError("body failed")
    assert dropout.mc is False
    dropout.mc = True
    with kerasbio.mc_sampling(model, enabled=False):
        assert dropout.mc is False
    assert dropout.mc is True


@pytest.mark.parametrize("kwargs,name", [({"samples": 0}, "samples"),
                                         ({"max_batch": 0}, "max_batch")])
def test_invalid_arguments_name_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=f"`{name}`"):
        kerasbio.mc_predict(head_dropout_model(), X, verbose=0, **kwargs)


class SubclassedClassifier(keras.Model):
    """No `.inputs`/`.outputs`: mc_predict must tile its inputs."""

    def __init__(self):
        super().__init__()
        self.hidden = keras.layers.Dense(8, activation="relu")
        self.dropout = BernoulliDropout(0.5, seed=3)
        self.head = keras.layers.Dense(3, activation="softmax")

    def call(self, inputs, training=False):
        return self.head(self.dropout(self.hidden(inputs), training=training))


def test_subclassed_models_are_sampled():
    keras.utils.set_random_seed(7)
    model = SubclassedClassifier()
    model(X)
    reference = separate_passes(model, samples=200)
    result = kerasbio.mc_predict(model, X, samples=200, return_draws=True, verbose=0)
    assert result.draws.shape == (len(X), 200, 3)
    standard_error = np.sqrt((reference.var(1) + result.draws.var(1)) / 200)
    assert np.all(np.abs(result.mean - reference.mean(1)) < 5 * standard_error + 1e-6)
    assert np.all(result.stddev > 0)


def deterministic_sampling_model():
    """A sampling layer with no noise: every input type must give the same numbers."""
    keras.utils.set_random_seed(8)
    return keras.Sequential([keras.Input((5,)), GaussianDropout(0.0),
                             keras.layers.Dense(3, activation="softmax")])


class ArrayBatches(keras.utils.PyDataset):
    def __init__(self, x, batch):
        super().__init__()
        self.x, self.batch = x, batch

    def __len__(self):
        return -(-len(self.x) // self.batch)

    def __getitem__(self, index):
        return self.x[index * self.batch:(index + 1) * self.batch], None


@pytest.mark.parametrize("make_input", [
    lambda: tf.data.Dataset.from_tensor_slices((X, np.zeros(len(X)))).batch(4),
    lambda: tf.data.Dataset.from_tensor_slices(X).batch(5),
    lambda: (X[i:i + 2] for i in range(0, len(X), 2)),
    lambda: ArrayBatches(X, 4),
])
def test_datasets_generators_and_pydatasets_give_the_array_result(make_input):
    model = deterministic_sampling_model()
    expected = kerasbio.mc_predict(model, X, samples=3, verbose=0).mean
    result = kerasbio.mc_predict(model, make_input(), samples=3, max_batch=6, verbose=0)
    np.testing.assert_allclose(result.mean, expected, rtol=1e-6)


def test_max_batch_bounds_the_rows_of_every_pass():
    """Rows per pass (examples x draws) stay <= max_batch, whatever batch_size or T."""
    class LargestBatch(keras.layers.Layer):
        """Identity that records the most rows one call has seen."""

        def build(self, input_shape):
            self.rows = self.add_weight(shape=(), initializer="zeros", trainable=False)

        def call(self, inputs):
            rows = keras.ops.cast(keras.ops.shape(inputs)[0], "float32")
            self.rows.assign(keras.ops.maximum(self.rows, rows))
            return inputs

    recorder = LargestBatch()
    inputs = keras.Input((5,))
    outputs = keras.layers.Dense(3, activation="softmax")(
        recorder(BernoulliDropout(0.5)(inputs)))
    model = keras.Model(inputs, outputs)
    for samples, max_batch, batch_size in [(10, 20, 64), (7, 3, None), (4, 100, None)]:
        recorder.rows.assign(0.0)
        result = kerasbio.mc_predict(model, X, samples=samples, batch_size=batch_size,
                                     max_batch=max_batch, return_draws=True, verbose=0)
        assert result.draws.shape == (len(X), samples, 3)
        assert 0 < float(recorder.rows) <= max_batch


def test_regression_outputs_get_mean_and_stddev_only_with_a_warning():
    keras.utils.set_random_seed(9)
    model = keras.Sequential([keras.Input((5,)), BernoulliDropout(0.5), keras.layers.Dense(1)])
    with pytest.warns(UserWarning, match="not probabilities"):
        result = kerasbio.mc_predict(model, X, samples=5, verbose=0)
    assert result.mean.shape == (len(X), 1) and np.all(result.stddev >= 0)
    assert result.predictive_entropy is None and result.mutual_information is None


@pytest.mark.parametrize("x, kwargs, fragment", [
    (np.zeros((0, 5), "float32"), {}, "empty"),
    (X, {"batch_size": 0}, "`batch_size`"),
    (X, {"samples": 2.7}, "`samples`"),
    (iter([]), {}, "at least one example"),
])
def test_empty_inputs_and_bad_counts_are_refused(x, kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        kerasbio.mc_predict(head_dropout_model(), x, verbose=0, **kwargs)
