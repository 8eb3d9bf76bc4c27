"""Every public kerasbio layer, found through the Keras registry, against the layer contract.

The layers and their examples come from `tests/layer_examples.py`.
"""

import inspect

import numpy as np
import pytest

import keras
import tensorflow as tf

import kerasbio
from layer_examples import LAYERS, example_batch, example_kwargs, input_shape


def small_model(layer, cls):
    return keras.Sequential([keras.Input(input_shape(cls)), layer, keras.layers.Flatten(),
                             keras.layers.Dense(2)])


def test_every_public_layer_is_registered():
    registered = set(keras.saving.get_custom_objects().values())
    for name in kerasbio.layers.__all__:
        assert getattr(kerasbio.layers, name) in registered, name
    assert len(LAYERS) == len(kerasbio.layers.__all__)


@pytest.fixture(params=LAYERS, ids=lambda cls: cls.__name__)
def cls(request):
    keras.utils.set_random_seed(1)
    return request.param


def test_sequential_add_and_output_shape(cls):
    model = keras.Sequential([keras.Input(input_shape(cls))])
    layer = cls(**example_kwargs(cls))
    model.add(layer)
    out = model(example_batch(cls), training=True)
    assert tuple(out.shape) == layer.compute_output_shape((4, *input_shape(cls)))
    assert np.all(np.isfinite(keras.ops.convert_to_numpy(out)))


def test_functional_use_is_deterministic_without_mc(cls):
    inputs = keras.Input(input_shape(cls))
    model = keras.Model(inputs, cls(**example_kwargs(cls))(inputs))
    x = example_batch(cls)
    np.testing.assert_array_equal(model(x, training=False), model(x, training=False))
    assert not np.array_equal(model(x, training=True), model(x, training=True))


def test_config_round_trip(cls):
    layer = cls(**example_kwargs(cls, mc=True, seed=3))
    clone = cls.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    assert clone.mc is True


def test_keras_file_round_trip(cls, tmp_path):
    model = small_model(cls(**example_kwargs(cls)), cls)
    x = example_batch(cls)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(model.predict(x, verbose=0), loaded.predict(x, verbose=0))


def test_saved_model_export_and_reload(cls, tmp_path):
    model = small_model(cls(**example_kwargs(cls)), cls)
    x = example_batch(cls)
    model.export(str(tmp_path / "served"), verbose=False)
    reloaded = tf.saved_model.load(str(tmp_path / "served"))
    np.testing.assert_allclose(reloaded.serve(x).numpy(), model.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)


def test_jit_compiled_steps_match_the_expectation_and_draw_fresh_noise(cls):
    """Under XLA the expectation pass equals the uncompiled one, and each training step draws
    new noise (the loss differs from the expectation's and from the previous step's)."""
    x, y = example_batch(cls), np.ones((4, 2), "float32")
    plain, xla = (small_model(cls(**example_kwargs(cls, seed=4)), cls) for _ in range(2))
    xla.set_weights(plain.get_weights())
    for model, jit_compile in ((plain, False), (xla, True)):
        model.compile(keras.optimizers.SGD(0.0), "mse", jit_compile=jit_compile)
    np.testing.assert_allclose(xla.predict(x, verbose=0), plain.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)
    expectation = plain.evaluate(x, y, verbose=0)
    first, second = xla.train_on_batch(x, y), xla.train_on_batch(x, y)
    assert np.isfinite([first, second]).all()
    assert first != expectation and first != second


def test_mirrored_strategy_training_step_and_replica_noise(cls, mirrored_strategy):
    strategy = mirrored_strategy
    with strategy.scope():
        layer = cls(**example_kwargs(cls, mc=True, seed=5))
        model = small_model(layer, cls)
        model.compile("sgd", "mse")
    history = model.fit(example_batch(cls), np.ones((4, 2), "float32"), batch_size=4,
                        epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    x = tf.constant(example_batch(cls, batch=2))
    per_replica = strategy.run(tf.function(lambda: layer(x, training=False)))
    first, second = strategy.experimental_local_results(per_replica)
    assert not np.array_equal(first.numpy(), second.numpy())


def test_mixed_float16_outputs_and_gradients_are_finite(cls):
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = small_model(cls(**example_kwargs(cls)), cls)
        x = tf.constant(example_batch(cls))
        with tf.GradientTape() as tape:
            out = model(x, training=True)
            loss = tf.reduce_mean(tf.square(tf.cast(out, "float32")))
        grads = tape.gradient(loss, model.trainable_variables)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert np.all(np.isfinite(out.numpy()))
    assert all(np.all(np.isfinite(g.numpy())) for g in grads if g is not None)


def test_mc_layer_samples_at_inference_independently_per_example(cls):
    layer = cls(**example_kwargs(cls, mc=True))
    single = example_batch(cls, batch=1)
    x = np.concatenate([single, single])
    first = keras.ops.convert_to_numpy(layer(x, training=False))
    second = keras.ops.convert_to_numpy(layer(x, training=False))
    assert not np.array_equal(first, second)
    assert not np.array_equal(first[0], first[1])


def test_same_seed_gives_same_first_draw(cls):
    x = example_batch(cls)
    first = cls(**example_kwargs(cls, seed=11))
    second = cls(**example_kwargs(cls, seed=11))
    first.build(x.shape)
    second.build(x.shape)
    second.set_weights(first.get_weights())
    np.testing.assert_array_equal(first(x, training=True), second(x, training=True))


def test_invalid_constructor_arguments_name_the_argument(cls):
    invalid = getattr(cls, "_invalid_configs", ())
    assert invalid, f"{cls.__name__} declares no `_invalid_configs`"
    for overrides in invalid:
        with pytest.raises(ValueError, match="|".join(f"`{k}`" for k in overrides)):
            cls(**example_kwargs(cls, **overrides))


def hostile_values(value):
    """Values of the wrong kind for an argument whose valid example value is `value`."""
    if isinstance(value, bool):
        return ["false", 1, None]
    if isinstance(value, int):
        return [2.5, "3", True, float("nan")]
    if isinstance(value, float):
        return [float("nan"), float("inf"), "0.5", True, None]
    if isinstance(value, str):
        return ["not-an-option", None, [value]]
    return []


def typed_arguments(cls):
    """`{name: valid value}` for every constructor argument with a number, bool or str value
    (from the example config, else the default), the wrapped layer and `**kwargs` excluded."""
    example = example_kwargs(cls)
    arguments = {}
    for name, parameter in inspect.signature(cls.__init__).parameters.items():
        if name in ("self", "layer") or parameter.kind is parameter.VAR_KEYWORD:
            continue
        value = example.get(name, parameter.default)
        if isinstance(value, (bool, int, float, str)):
            arguments[name] = value
    return {**arguments, "seed": 3}


def test_arguments_of_the_wrong_kind_are_refused_by_name(cls):
    """NaN, inf, a bool for a number, a float for an integer, a string for a number or a bool,
    an unknown option: a `ValueError` naming the argument, for every typed argument."""
    for name, value in typed_arguments(cls).items():
        for hostile in hostile_values(value):
            with pytest.raises(ValueError, match=f"`{name}`"):
                cls(**example_kwargs(cls, **{name: hostile}))
