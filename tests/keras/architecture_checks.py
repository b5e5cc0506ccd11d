"""(b) Networks other than DeepID, built here with random weights (BatchNormalization statistics
too), Sequential and functional, saved by tf_keras (.h5) and Keras 3 (.keras): prunedef's logits
against Keras'. And networks prunedef cannot run (LSTM, Conv1D, a dilated Conv2D): refused with
a message naming the layer's class and name."""

import numpy as np

from prunedef_keras import (SCALE_255, Failure, check_pre_softmax, compare_logits, extension, keras_input, keras_logits, keras_module,
                            load_model, prunedef_logits, run_tool, save_model, write_dataset)


def _leaky(K, slope, name):
    if K.__name__ == "keras":  # Keras 3 renamed alpha
        return K.layers.LeakyReLU(negative_slope=slope, name=name)
    return K.layers.LeakyReLU(alpha=slope, name=name)


def seq_strided(K):
    """Sequential: 'same' padding with strides, tanh and sigmoid, BatchNormalization after a
    convolution without bias, asymmetric ZeroPadding2D and strides, Dropout, softmax Dense."""
    L = K.layers
    return K.Sequential([
        K.Input(shape=(32, 32, 3)),
        L.Conv2D(8, 3, strides=2, padding="same", activation="tanh", name="conv_a"),
        L.BatchNormalization(name="bn_a"),
        L.Conv2D(12, (3, 3), padding="same", use_bias=False, name="conv_b"),
        L.BatchNormalization(name="bn_b"),
        L.Activation("relu", name="relu_b"),
        L.MaxPooling2D(2, name="pool_b"),
        L.ZeroPadding2D(((1, 2), (0, 1)), name="pad"),
        L.Conv2D(16, (3, 2), strides=(2, 1), activation="sigmoid", name="conv_c"),
        L.Flatten(name="flat"),
        L.Dropout(0.3, name="drop"),
        L.Dense(10, activation="softmax", name="output"),
    ], name="seq_strided")


def fmnist_residual(K):
    """Functional, Fashion-MNIST-sized: a residual block (Add), BatchNormalization, a ReLU layer,
    AveragePooling2D, a strided ELU convolution, GlobalAveragePooling2D, a linear output."""
    L = K.layers
    x = K.Input(shape=(28, 28, 1), name="image")
    stem = L.Conv2D(16, 3, padding="same", activation="relu", name="stem")(x)
    y = L.Conv2D(16, 3, padding="same", name="res_a")(stem)
    y = L.BatchNormalization(name="res_bn")(y)
    y = L.ReLU(name="res_relu")(y)
    y = L.Conv2D(16, 3, padding="same", name="res_b")(y)
    z = L.Add(name="res_add")([stem, y])
    z = L.Activation("relu", name="res_out")(z)
    z = L.AveragePooling2D(2, name="avg")(z)
    z = L.Conv2D(24, 3, strides=2, activation="elu", name="down")(z)
    z = L.GlobalAveragePooling2D(name="gap")(z)
    return K.Model(x, L.Dense(10, name="logits")(z), name="fmnist_residual")


def inception_concat(K):
    """Functional: three branches (1x1 ReLU, 3x3 'same' ELU, 5x5 'same' tanh) concatenated on
    channels, LeakyReLU, MaxPooling2D, a strided 'same' convolution, GlobalMaxPooling2D,
    Dropout, softmax Dense."""
    L = K.layers
    x = K.Input(shape=(24, 20, 3), name="image")
    a = L.Conv2D(8, 1, activation="relu", name="branch_1x1")(x)
    b = L.Conv2D(8, 3, padding="same", activation="elu", name="branch_3x3")(x)
    c = L.Conv2D(4, (5, 5), padding="same", activation="tanh", name="branch_5x5")(x)
    m = L.Concatenate(name="concat")([a, b, c])
    m = _leaky(K, 0.1, "leaky")(m)
    m = L.MaxPooling2D((2, 2), name="pool")(m)
    m = L.Conv2D(16, 3, strides=2, padding="same", name="conv_s2")(m)
    m = L.GlobalMaxPooling2D(name="gmp")(m)
    m = L.Dropout(0.5, name="drop")(m)
    return K.Model(x, L.Dense(5, activation="softmax", name="output")(m), name="inception_concat")


def seq_dense_bn(K):
    """Sequential: LeakyReLU layer, AveragePooling2D, ELU convolution, MaxPooling2D whose stride
    differs from its size, BatchNormalization of a Dense layer, tanh Activation, Dropout and a
    sigmoid output (kept: only a final softmax is left out)."""
    L = K.layers
    return K.Sequential([
        K.Input(shape=(20, 20, 2)),
        L.Conv2D(6, 5, name="conv_a"),
        _leaky(K, 0.2, "leaky"),
        L.AveragePooling2D((2, 2), name="avg"),
        L.Conv2D(10, 3, activation="elu", name="conv_b"),
        L.MaxPooling2D(pool_size=(3, 3), strides=(2, 2), name="pool"),
        L.Flatten(name="flat"),
        L.Dense(32, name="dense"),
        L.BatchNormalization(name="bn_dense"),
        L.Activation("tanh", name="tanh"),
        L.Dropout(0.2, name="drop"),
        L.Dense(7, activation="sigmoid", name="output"),
    ], name="seq_dense_bn")


def twin_dense_add(K):
    """Functional, DeepID-like: two dense interpretations of different depths added, a ReLU
    layer, a linear Dense and a final Softmax layer; strides (1, 2) and a sigmoid convolution."""
    L = K.layers
    x = K.Input(shape=(16, 16, 3), name="image")
    c1 = L.Conv2D(8, 3, strides=(1, 2), activation="relu", name="conv_1")(x)
    f1 = L.Dense(20, name="fc_1")(L.Flatten(name="flat_1")(c1))
    c2 = L.Conv2D(8, 3, activation="sigmoid", name="conv_2")(c1)
    f2 = L.Dense(20, name="fc_2")(L.Flatten(name="flat_2")(c2))
    s = L.ReLU(name="relu")(L.Add(name="add")([f1, f2]))
    y = L.Softmax(name="softmax")(L.Dense(6, name="pre")(s))
    return K.Model(x, y, name="twin_dense_add")


def conv_bn_head(K):
    """Sequential: BatchNormalization right after the input and after a 'same' strided
    convolution with bias, a Dense after GlobalAveragePooling2D, Dropout between Dense layers."""
    L = K.layers
    return K.Sequential([
        K.Input(shape=(15, 17, 4)),
        L.BatchNormalization(name="bn_in"),
        L.Conv2D(12, (4, 3), strides=(3, 2), padding="same", name="conv_a"),
        L.BatchNormalization(name="bn_a"),
        L.Activation("sigmoid", name="sig"),
        L.Conv2D(12, 2, padding="same", activation="relu", name="conv_b"),
        L.GlobalAveragePooling2D(name="gap"),
        L.Dense(16, activation="relu", name="hidden"),
        L.Dropout(0.4, name="drop"),
        L.Dense(4, name="output"),
    ], name="conv_bn_head")


# name, builder, input (H, W, C), classes, data set: stored dtype, labels (N,) or (N, 1), input scale
ARCHITECTURES = [
    ("seq_strided", seq_strided, (32, 32, 3), 10, "float32", (-1,), 1.0),
    ("fmnist_residual", fmnist_residual, (28, 28, 1), 10, "uint8", (-1, 1), SCALE_255),
    ("inception_concat", inception_concat, (24, 20, 3), 5, "float32", (-1, 1), 1.0),
    ("seq_dense_bn", seq_dense_bn, (20, 20, 2), 7, "float32", (-1,), 1.0),
    ("twin_dense_add", twin_dense_add, (16, 16, 3), 6, "uint8", (-1,), SCALE_255),
    ("conv_bn_head", conv_bn_head, (15, 17, 4), 4, "float32", (-1,), 1.0),
]
IMAGES = 48


def random_weights(model, seed):
    """Non-trivial random weights: kernels He-scaled, biases and BatchNormalization's beta,
    moving mean and variance and gamma all away from their initial values."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        values = []
        for w, v in zip(layer.weights, layer.get_weights()):
            kind = w.name.split("/")[-1].split(":")[0]
            if kind in ("kernel", "recurrent_kernel"):
                fan_in = int(np.prod(v.shape[:-1]))
                values.append(rng.normal(0, np.sqrt(2.0 / fan_in), v.shape))
            elif kind == "gamma":
                values.append(rng.uniform(0.5, 1.5, v.shape))
            elif kind == "moving_variance":
                values.append(rng.uniform(0.3, 2.0, v.shape))
            elif kind in ("bias", "beta", "moving_mean"):
                values.append(rng.normal(0, 0.2, v.shape))
            else:
                raise Failure(f"random_weights: unexpected weight {w.name} of layer {layer.name}")
        if values:
            layer.set_weights([x.astype(np.float32) for x in values])


def dataset(ctx, name):
    """The architecture's data set in the challenge layout (random images, random labels)."""
    def make():
        _, _, (h, w, c), classes, dtype, label_shape, scale = next(a for a in ARCHITECTURES if a[0] == name)
        rng = np.random.default_rng(sum(map(ord, name)))
        if dtype == "uint8":
            data = rng.integers(0, 256, (IMAGES, c, h, w), dtype=np.uint8)
        else:
            data = rng.uniform(-1, 2, (IMAGES, c, h, w)).astype(np.float32)
        labels = rng.integers(0, classes, IMAGES).astype(np.float32).reshape(label_shape)
        return data, write_dataset(ctx.path(f"{name}_data.h5"), data, labels), scale
    return ctx.memo(("data", name), make)


def calibrate_output(model, x_nhwc):
    """Random weights alone tend to put every image in one class (the biases dominate). Scale
    and centre the last layer with a kernel over the data set so that its outputs spread around
    zero with standard deviation 2: the argmax comparison then means something."""
    last = next(l for l in reversed(model.layers) if l.get_weights())
    km = keras_module("keras2") if model.__class__.__module__.startswith("tf_keras") else keras_module("keras3")
    feats = km.Model(model.inputs, last.input).predict(x_nhwc, verbose=0).astype(np.float64)
    kernel, bias = last.get_weights()
    mean = feats.mean(axis=0)
    spread = float(((feats - mean) @ kernel).std())
    kernel = kernel * (2.0 / max(spread, 1e-12))
    last.set_weights([kernel.astype(np.float32), (-(mean @ kernel)).astype(np.float32)])


def model_file(ctx, name, kind):
    """The architecture built with `kind`'s Keras, with seeded random weights (the same in both
    Keras: Keras 3's are copied from tf_keras'), saved."""
    def make():
        builder = next(a[1] for a in ARCHITECTURES if a[0] == name)
        model = builder(keras_module(kind))
        if kind == "keras2":
            random_weights(model, seed=sum(map(ord, name)))
            data, _, scale = dataset(ctx, name)
            calibrate_output(model, keras_input(data, scale))
        else:
            model.set_weights(load_model(model_file(ctx, name, "keras2")).get_weights())
        return save_model(model, ctx.path(name + extension(kind)))
    return ctx.memo(("archfile", name, kind), make)


def keras_reference(ctx, name, kind):
    """Keras' pre-softmax logits of the saved file, opened as a user would."""
    def make():
        data, _, scale = dataset(ctx, name)
        return keras_logits(load_model(model_file(ctx, name, kind)), keras_input(data, scale))
    return ctx.memo(("archref", name, kind), make)


def check_keras_agree(name):
    """The Python side: the same weights give the same logits in tf_keras and Keras 3."""
    def check(ctx):
        notes = [compare_logits("keras 3 vs tf_keras", keras_reference(ctx, name, "keras3"),
                                keras_reference(ctx, name, "keras2"))]
        data, _, scale = dataset(ctx, name)
        for kind in ("keras2", "keras3"):
            notes.append(check_pre_softmax(kind, load_model(model_file(ctx, name, kind)), keras_input(data, scale),
                                           keras_reference(ctx, name, kind)))
        return notes
    return check


def check_architecture(name, kind):
    def check(ctx):
        _, data_file, scale = dataset(ctx, name)
        ours = prunedef_logits(ctx, model_file(ctx, name, kind), data_file, scale)
        return [compare_logits(f"{name}{extension(kind)}", ours, keras_reference(ctx, name, kind))]
    return check


def check_config(name):
    """A weights-only file (tf_keras save_weights) with its architecture given by --config
    (model.to_json()): the same logits as Keras'."""
    def check(ctx):
        model = load_model(model_file(ctx, name, "keras2"))
        weights = ctx.path(f"{name}_weights.h5")
        model.save_weights(weights, save_format="h5")
        config = ctx.path(f"{name}_config.json")
        with open(config, "w") as f:
            f.write(model.to_json())
        _, data_file, scale = dataset(ctx, name)
        ours = prunedef_logits(ctx, weights, data_file, scale, "--config", config)
        return [compare_logits(f"{name}: weights-only .h5 + --config", ours, keras_reference(ctx, name, "keras2"))]
    return check


# Networks prunedef must refuse: (name, builder, class of the refused layer, its name)
def lstm_model(K):
    L = K.layers
    x = K.Input(shape=(12, 8), name="sequence")
    return K.Model(x, L.Dense(3, name="output")(L.LSTM(6, name="recurrent")(x)), name="lstm_model")


def conv1d_model(K):
    L = K.layers
    return K.Sequential([K.Input(shape=(16, 3)), L.Conv1D(4, 3, activation="relu", name="temporal"),
                         L.Flatten(name="flat"), L.Dense(3, name="output")], name="conv1d_model")


def dilated_model(K):
    L = K.layers
    return K.Sequential([K.Input(shape=(16, 16, 3)), L.Conv2D(4, 3, dilation_rate=2, name="atrous"),
                         L.Flatten(name="flat"), L.Dense(3, name="output")], name="dilated_model")


REFUSED = [
    ("lstm", lstm_model, "LSTM", "recurrent"),
    ("conv1d", conv1d_model, "Conv1D", "temporal"),
    ("dilated", dilated_model, "Conv2D", "atrous"),
]


def check_refused(name, kind):
    def check(ctx):
        builder, cls, layer = next((b, c, l) for n, b, c, l in REFUSED if n == name)
        model = builder(keras_module(kind))
        random_weights(model, seed=7)
        path = save_model(model, ctx.path(f"refused_{name}{extension(kind)}"))
        data_file = ctx.memo(("refused_data",), lambda: write_dataset(
            ctx.path("refused_data.h5"), np.random.default_rng(3).uniform(0, 1, (4, 3, 16, 16)).astype(np.float32),
            np.zeros(4, np.float32)))
        out = ctx.path(f"refused_{name}_logits.h5")
        p = run_tool(ctx, "predict", "--model", path, "--data", data_file, "--out", out, ok=False)
        message = (p.stderr + p.stdout).strip()
        if p.returncode == 0:
            raise Failure(f"prunedef predict accepted {path} (a {cls} layer '{layer}' it cannot run)")
        if cls not in message or layer not in message:
            raise Failure(f"prunedef refused {path} (exit {p.returncode}) without naming the layer's class "
                          f"'{cls}' and name '{layer}': {message}")
        return [f"refused, exit {p.returncode}: {message}"]
    return check


CHECKS = []
for _name, *_ in ARCHITECTURES:
    CHECKS.append((f"arch/{_name}: tf_keras and keras 3 agree (Python side)", check_keras_agree(_name)))
    for _kind in ("keras2", "keras3"):
        CHECKS.append((f"arch/{_name}{extension(_kind)}: predict vs Keras", check_architecture(_name, _kind)))
for _name in ("seq_strided", "inception_concat"):
    CHECKS.append((f"arch/{_name}: predict on a weights-only .h5 with --config model.json vs Keras", check_config(_name)))
for _name, *_ in REFUSED:
    for _kind in ("keras2", "keras3"):
        CHECKS.append((f"arch/refused {_name}{extension(_kind)}: predict refuses, naming the layer",
                       check_refused(_name, _kind)))
