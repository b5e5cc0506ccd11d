#pragma once
// is_deepid(spec): whether a model configuration is exactly the DeepID of the CSAW challenge's
// architecture.py (model/deepid.hpp), so that the compile-time DeepID and its fast paths run it:
//
//   input -> conv_1 -> pool_1 -> conv_2 -> pool_2 -> conv_3 -> pool_3 -> conv_4 -> Flatten -> fc_2
//                                                              pool_3 -> Flatten -> fc_1
//         Add(fc_1, fc_2) -> Activation(relu) -> output (Dense, softmax or linear)
//
// Convolutions: ReLU, valid, stride 1, with bias; pools: 2x2, stride 2, valid; fc_1, fc_2:
// linear with bias. Sizes are free (DeepID reads them from the weights), and so are the names of
// the Flatten, Add and Activation layers.

#include <prunedef/model/layer_spec.hpp>

#include <map>
#include <string>

namespace prunedef {

inline bool is_deepid(const ModelSpec& spec, std::string* why = nullptr) {
    auto fail = [&](const std::string& reason) {
        if (why) *why = reason;
        return false;
    };
    if (spec.layers.size() != 15)
        return fail("DeepID has 15 layers (with the input), the model has " + std::to_string(spec.layers.size()));
    std::map<std::string, const LayerSpec*> by_name;
    for (const auto& l : spec.layers) by_name[l.name] = &l;
    if (by_name.size() != spec.layers.size()) return fail("two layers have the same name");
    auto reads = [&](const LayerSpec& l, const std::string& input) { return l.inputs.size() == 1 && l.inputs[0] == input; };
    const LayerSpec& input = spec.layers[0];
    if (input.class_name != "InputLayer") return fail("the first layer is not an InputLayer");

    const char* convs[] = {"conv_1", "conv_2", "conv_3", "conv_4"};
    const std::string conv_inputs[] = {input.name, "pool_1", "pool_2", "pool_3"};
    for (int i = 0; i < 4; ++i) {
        const auto it = by_name.find(convs[i]);
        if (it == by_name.end()) return fail(std::string("no layer ") + convs[i]);
        const LayerSpec& c = *it->second;
        if (c.class_name != "Conv2D" || c.activation != "relu" || c.padding != "valid" || c.strides[0] != 1 ||
            c.strides[1] != 1 || !c.use_bias)
            return fail(c.name + " is not a Conv2D with relu, valid padding, stride 1 and a bias");
        if (!reads(c, conv_inputs[i])) return fail(c.name + " does not read " + conv_inputs[i]);
    }
    const char* pools[] = {"pool_1", "pool_2", "pool_3"};
    for (int i = 0; i < 3; ++i) {
        const auto it = by_name.find(pools[i]);
        if (it == by_name.end()) return fail(std::string("no layer ") + pools[i]);
        const LayerSpec& p = *it->second;
        if (p.class_name != "MaxPooling2D" || p.pool_size[0] != 2 || p.pool_size[1] != 2 || p.strides[0] != 2 ||
            p.strides[1] != 2 || p.padding != "valid")
            return fail(p.name + " is not a 2x2 MaxPooling2D with stride 2 and valid padding");
        if (!reads(p, convs[i])) return fail(p.name + std::string(" does not read ") + convs[i]);
    }
    // fc_1 <- Flatten <- pool_3, fc_2 <- Flatten <- conv_4
    const std::pair<const char*, const char*> fcs[] = {{"fc_1", "pool_3"}, {"fc_2", "conv_4"}};
    for (const auto& [fc, source] : fcs) {
        const auto it = by_name.find(fc);
        if (it == by_name.end()) return fail(std::string("no layer ") + fc);
        const LayerSpec& d = *it->second;
        if (d.class_name != "Dense" || d.activation != "linear" || !d.use_bias)
            return fail(d.name + " is not a linear Dense layer with a bias");
        if (d.inputs.size() != 1 || !by_name.count(d.inputs[0])) return fail(d.name + " does not read one layer");
        const LayerSpec& f = *by_name[d.inputs[0]];
        if (f.class_name != "Flatten" || !reads(f, source))
            return fail(d.name + " does not read a Flatten of " + source);
    }
    const auto out = by_name.find("output");
    if (out == by_name.end()) return fail("no layer output");
    const LayerSpec& o = *out->second;
    if (spec.output != "output") return fail("the model's output is " + spec.output + ", not the layer output");
    if (o.class_name != "Dense" || (o.activation != "softmax" && o.activation != "linear") || !o.use_bias)
        return fail("output is not a Dense layer with softmax or linear activation and a bias");
    if (o.inputs.size() != 1 || !by_name.count(o.inputs[0])) return fail("output does not read one layer");
    const LayerSpec& act = *by_name[o.inputs[0]];
    if (!((act.class_name == "Activation" && act.activation == "relu") || act.class_name == "ReLU"))
        return fail("output does not read a ReLU activation layer");
    if (act.inputs.size() != 1 || !by_name.count(act.inputs[0])) return fail(act.name + " does not read one layer");
    const LayerSpec& add = *by_name[act.inputs[0]];
    if (add.class_name != "Add" || add.inputs.size() != 2 ||
        !((add.inputs[0] == "fc_1" && add.inputs[1] == "fc_2") || (add.inputs[0] == "fc_2" && add.inputs[1] == "fc_1")))
        return fail(act.name + " does not read an Add of fc_1 and fc_2");
    if (why) why->clear();
    return true;
}

}  // namespace prunedef
