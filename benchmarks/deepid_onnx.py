#!/usr/bin/env python3
"""The CSAW DeepID face network as an ONNX graph (opset 13), built from a Keras weights file.

Reads the kernels of a Keras 2 `save_weights` file with h5py and writes an ONNX model made of
Conv, Relu, MaxPool, Flatten, Gemm and Add only (onnx.helper), with input `images`, float32
N x 3 x 55 x 47 (NCHW, the layout of the challenge's data files, pixels 0..255) and output
`logits`, N x 1283 (pre-softmax). The model's input scale (1 for lab3_sunglasses, which was
trained on raw pixels; 1/255 for the others) is folded into conv_1's kernel:
conv(s x, W) = conv(x, s W).

Layout conversions, done once here:
  * Conv2D kernels (kh, kw, cin, cout) -> ONNX OIHW (cout, cin, kh, kw);
  * Dense kernels (in, out) are Gemm's B as they are (Y = A B + C, transB = 0);
  * fc_1 reads Flatten(pool_3) and fc_2 reads Flatten(ReLU(conv_4)). Keras flattens H, W, C
    maps in row-major H, W, C order (row index (h W + w) C + c); ONNX's Flatten of an NCHW
    tensor gives c H W + h W + w. The rows of both kernels are permuted accordingly:
    B'[c H W + h W + w] = B[(h W + w) C + c], i.e. reshape (H, W, C, out), transpose to
    (C, H, W, out), reshape back (pool_3 is 5 x 4 x 60, conv_4's output 4 x 3 x 80).

Then, unless --no-check: onnx.checker.check_model, and ONNX Runtime's logits on the 120 faces
of clean_samples.h5 and the 4 random inputs of golden_logits.h5 against golden_logits.h5
(float64 reference): per image, max |ORT - golden| <= 1e-4 x max |golden|. With --prunedef L
(prunedef's logits of the faces of clean_samples.h5: dataset `logits` of the .h5 file that
`prunedef predict --data clean_samples.h5` writes, or the raw float32 file that
`prunedef_vs_onednn --logits L` writes), also against prunedef's, same rule. Exits non-zero on
any failure.

usage: deepid_onnx.py [--weights W.h5] [--scale S] [--shared DIR] [--out deepid.onnx]
                      [--prunedef L.h5] [--no-check] [--threads 2]
"""

import argparse
import os
import sys

import numpy as np

CONVS = [("conv_1", (4, 4, 3, 20)), ("conv_2", (3, 3, 20, 40)), ("conv_3", (3, 3, 40, 60)), ("conv_4", (2, 2, 60, 80))]
DENSES = [("fc_1", (1200, 160)), ("fc_2", (960, 160)), ("output", (160, 1283))]
# (H, W, C) of the maps each flattening dense layer reads.
FLATTENED = {"fc_1": (5, 4, 60), "fc_2": (4, 3, 80)}
INPUT = (3, 55, 47)  # C, H, W
TOLERANCE = 1e-4


def read_keras_weights(path):
    """{layer: (kernel, bias)} in Keras' layouts, checked against the CSAW DeepID's sizes."""
    import h5py

    out = {}
    with h5py.File(path, "r") as f:
        for layer, shape in CONVS + DENSES:
            if layer not in f:
                raise SystemExit("deepid_onnx.py: %s has no layer %s: not a CSAW DeepID weights file" % (path, layer))
            names = [n.decode() if isinstance(n, bytes) else n for n in f[layer].attrs["weight_names"]]
            arrays = {n.split("/")[-1]: np.asarray(f[layer][n], dtype=np.float32) for n in names}
            kernel, bias = arrays.get("kernel:0"), arrays.get("bias:0")
            if kernel is None or bias is None or kernel.shape != shape or bias.shape != (shape[-1],):
                raise SystemExit("deepid_onnx.py: layer %s of %s is not %s with a bias" % (layer, path, shape))
            out[layer] = (kernel, bias)
    return out


def onnx_weights(keras, scale):
    """{name: float32 array} of the ONNX initializers."""
    init = {}
    for layer, _ in CONVS:
        kernel, bias = keras[layer]
        w = kernel.transpose(3, 2, 0, 1)
        if layer == "conv_1" and scale != 1.0:
            w = w * np.float32(scale)
        init[layer + "_W"], init[layer + "_B"] = np.ascontiguousarray(w, dtype=np.float32), bias
    for layer, _ in DENSES:
        kernel, bias = keras[layer]
        if layer in FLATTENED:
            h, w, c = FLATTENED[layer]
            kernel = kernel.reshape(h, w, c, -1).transpose(2, 0, 1, 3).reshape(h * w * c, -1)
        init[layer + "_W"], init[layer + "_B"] = np.ascontiguousarray(kernel, dtype=np.float32), bias
    return init


def build_model(keras, scale, source):
    from onnx import TensorProto, helper, numpy_helper

    init = onnx_weights(keras, scale)
    nodes = []

    def conv_relu(layer, x):
        nodes.append(helper.make_node("Conv", [x, layer + "_W", layer + "_B"], [layer], name=layer,
                                      kernel_shape=list(init[layer + "_W"].shape[2:]), strides=[1, 1],
                                      pads=[0, 0, 0, 0]))
        nodes.append(helper.make_node("Relu", [layer], [layer + "_relu"], name=layer + "_relu"))
        return layer + "_relu"

    def pool(name, x):
        nodes.append(helper.make_node("MaxPool", [x], [name], name=name, kernel_shape=[2, 2], strides=[2, 2]))
        return name

    def gemm(layer, x):
        nodes.append(helper.make_node("Gemm", [x, layer + "_W", layer + "_B"], [layer], name=layer))
        return layer

    def flatten(name, x):
        nodes.append(helper.make_node("Flatten", [x], [name], name=name, axis=1))
        return name

    x = pool("pool_1", conv_relu("conv_1", "images"))
    x = pool("pool_2", conv_relu("conv_2", x))
    features = pool("pool_3", conv_relu("conv_3", x))
    a = gemm("fc_1", flatten("flatten_1", features))
    b = gemm("fc_2", flatten("flatten_2", conv_relu("conv_4", features)))
    nodes.append(helper.make_node("Add", [a, b], ["add_1"], name="add_1"))
    nodes.append(helper.make_node("Relu", ["add_1"], ["activation_1"], name="activation_1"))
    nodes.append(helper.make_node("Gemm", ["activation_1", "output_W", "output_B"], ["logits"], name="output"))

    graph = helper.make_graph(
        nodes, "csaw_deepid",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["N", *INPUT])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 1283])],
        [numpy_helper.from_array(v, name=k) for k, v in init.items()])
    model = helper.make_model(graph, producer_name="prunedef benchmarks/deepid_onnx.py",
                              opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8  # what ONNX Runtime 1.x reads for opset 13
    model.doc_string = "CSAW DeepID from %s, input scale %g folded into conv_1" % (os.path.basename(source), scale)
    return model


def session(model_bytes, threads):
    """An ONNX Runtime CPU session with `threads` intra-op threads and 1 inter-op thread."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(model_bytes, opts, providers=["CPUExecutionProvider"])


def worst_relative(got, ref):
    """Largest per-image max |got - ref| / max |ref|."""
    got, ref = np.asarray(got, np.float64), np.asarray(ref, np.float64)
    return float(np.max(np.max(np.abs(got - ref), axis=1) / np.maximum(np.max(np.abs(ref), axis=1), 1e-30)))


def check(model, sess, shared, group, prunedef_logits):
    """onnx.checker, then ORT against golden_logits.h5 (and prunedef). Returns the failures."""
    import h5py
    import onnx

    onnx.checker.check_model(model, full_check=True)
    print("onnx.checker: passed (opset %d, ops %s)" % (
        model.opset_import[0].version, ", ".join(sorted({n.op_type for n in model.graph.node}))))
    failures = []
    golden_path = os.path.join(shared, "data", "csaw", "golden_logits.h5")
    clean_path = os.path.join(shared, "data", "csaw", "clean_samples.h5")
    with h5py.File(clean_path, "r") as f:
        faces = np.asarray(f["data"], dtype=np.float32)
    ort_clean = sess.run(["logits"], {"images": faces})[0]
    with h5py.File(golden_path, "r") as g:
        if group not in g:
            raise SystemExit("deepid_onnx.py: golden_logits.h5 has no group %s" % group)
        cases = [("clean_samples (%d faces)" % len(faces), ort_clean, np.asarray(g[group]["clean_samples_logits"]))]
        if "random_inputs" in g and "random_inputs_logits" in g[group]:
            rnd = np.asarray(g["random_inputs"], dtype=np.float32)
            cases.append(("random_inputs (%d)" % len(rnd), sess.run(["logits"], {"images": rnd})[0],
                          np.asarray(g[group]["random_inputs_logits"])))
    for what, got, ref in cases:
        rel = worst_relative(got, ref)
        agree = int((got.argmax(1) == ref.argmax(1)).sum())
        print("ONNX Runtime vs golden_logits.h5, %s: max relative difference %.1e (limit %.0e), argmax %d/%d"
              % (what, rel, TOLERANCE, agree, len(ref)))
        if not rel <= TOLERANCE:
            failures.append("ONNX Runtime's logits differ from golden_logits.h5 on %s by %.3g relative" % (what, rel))
    if prunedef_logits:
        if prunedef_logits.endswith(".h5"):
            with h5py.File(prunedef_logits, "r") as f:
                ours = np.asarray(f["logits"])
        else:
            ours = np.fromfile(prunedef_logits, dtype="<f4")
            if ours.size % ort_clean.shape[1] == 0:
                ours = ours.reshape(-1, ort_clean.shape[1])
        if ours.shape != ort_clean.shape:
            failures.append("prunedef's logits in %s are %s, not %s" % (prunedef_logits, ours.shape, ort_clean.shape))
        else:
            rel = worst_relative(ort_clean, ours)
            print("ONNX Runtime vs prunedef, clean_samples: max relative difference %.1e (limit %.0e)"
                  % (rel, TOLERANCE))
            if not rel <= TOLERANCE:
                failures.append("ONNX Runtime's and prunedef's logits differ by %.3g relative" % rel)
    return failures


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", default=os.environ.get("PRUNEDEF_SHARED", os.path.join(here, "..", "..", "shared")))
    ap.add_argument("--weights", help="Keras weights file (default: SHARED/models/csaw/lab3_sunglasses_bd_weights.h5)")
    ap.add_argument("--scale", type=float, help="input scale (default: the input_scale attribute of the model's "
                                                 "group in golden_logits.h5)")
    ap.add_argument("--out", default="deepid.onnx")
    ap.add_argument("--prunedef", metavar="L", help="prunedef's logits of clean_samples.h5 to compare with (.h5 from "
                                                     "prunedef predict, else raw float32 from prunedef_vs_onednn --logits)")
    ap.add_argument("--no-check", action="store_true")
    ap.add_argument("--threads", type=int, default=2, help="ONNX Runtime intra-op threads for the check")
    args = ap.parse_args()

    weights = args.weights or os.path.join(args.shared, "models", "csaw", "lab3_sunglasses_bd_weights.h5")
    group = os.path.basename(weights).replace("_bd_weights.h5", "")
    scale = args.scale
    if scale is None:
        import h5py

        golden_path = os.path.join(args.shared, "data", "csaw", "golden_logits.h5")
        with h5py.File(golden_path, "r") as g:
            if group not in g or "input_scale" not in g[group].attrs:
                raise SystemExit("deepid_onnx.py: no input_scale for %s in %s: pass --scale" % (group, golden_path))
            scale = float(g[group].attrs["input_scale"])

    model = build_model(read_keras_weights(weights), scale, weights)
    data = model.SerializeToString()
    tmp = args.out + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, args.out)
    print("wrote %s (%d bytes) from %s, input scale %g" % (args.out, len(data), weights, scale))
    if args.no_check:
        return 0
    import onnxruntime

    print("ONNX Runtime %s, %d intra-op threads" % (onnxruntime.__version__, args.threads))
    failures = check(model, session(data, args.threads), args.shared, group, args.prunedef)
    for f in failures:
        print("deepid_onnx.py: " + f, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
