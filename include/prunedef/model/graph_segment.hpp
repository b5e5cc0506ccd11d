#pragma once
// GraphSegment: a part of a network assembled at run time, with one input tensor and one output
// tensor: ops (model/graph_op.hpp) in topological order, each reading the segment's input or
// earlier ops' outputs. It is a layer in the sense Network<Stem, PrunedConv, Reduce, Head> needs
// (output_shape, forward with or without a Workspace).
//
// Memory: finish() plans which intermediate tensors share storage. An op's output takes a slot
// of the workspace that no live tensor holds; the slot is free again once the tensor's last
// reader has run, so a forward pass holds at most as many intermediate tensors as are alive at
// once (two or three for a chain), not one per layer. A convolution whose only reader is a max
// pooling runs as one fused kernel (the results are identical).
//
// Training: forward_train() keeps the input and every op's output (no storage shared) in a
// GraphSegment::Trace; backward() runs the ops' backward passes in reverse topological order,
// and a tensor read by several ops (branches, Add, Concatenate, skip connections) sums the
// gradients of all its readers, in reverse op order (deterministic). parameters() lists every
// op's trainable arrays in op order.

#include <prunedef/core/error.hpp>
#include <prunedef/core/tensor.hpp>
#include <prunedef/core/workspace.hpp>
#include <prunedef/model/graph_op.hpp>

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace prunedef {

class GraphSegment {
public:
    static constexpr bool has_weights = false;
    /// Tensor id of the segment's input in add()'s input lists.
    static constexpr int input_id = -1;

    explicit GraphSegment(std::string name = "segment") : name_(std::move(name)) {}
    GraphSegment(const GraphSegment& other)
        : name_(other.name_), nodes_(copy(other.nodes_)), plan_(other.plan_), slot_count_(other.slot_count_) {}
    GraphSegment& operator=(const GraphSegment& other) {
        if (this != &other) {
            name_ = other.name_;
            nodes_ = copy(other.nodes_);
            plan_ = other.plan_;
            slot_count_ = other.slot_count_;
        }
        return *this;
    }
    GraphSegment(GraphSegment&&) = default;
    GraphSegment& operator=(GraphSegment&&) = default;

    const std::string& name() const { return name_; }

    /// Appends an op reading the given tensors (input_id or ids returned by earlier add() calls);
    /// returns the id of its output. The last op added gives the segment's output; call finish()
    /// after the last add().
    int add(std::unique_ptr<detail::GraphOp> op, std::vector<int> inputs) {
        const int id = static_cast<int>(nodes_.size());
        if (op->arity() == 1 ? inputs.size() != 1 : inputs.size() < 2)
            throw argument_error("graph segment " + name_ + ": layer " + op->name() + " reads " +
                                 std::to_string(inputs.size()) + " tensors, expected " +
                                 (op->arity() == 1 ? "1" : "2 or more"));
        for (int i : inputs)
            if (i < input_id || i >= id)
                throw argument_error("graph segment " + name_ + ": layer " + op->name() +
                                     " reads a tensor that is not computed before it");
        nodes_.push_back({std::move(op), std::move(inputs)});
        plan_.clear();
        return id;
    }

    /// Fuses convolution + max pooling pairs (unless fuse_pairs is false) and plans the
    /// intermediate tensors' storage.
    void finish(bool fuse_pairs = true) {
        if (fuse_pairs) fuse();
        plan();
    }

    std::size_t size() const { return nodes_.size(); }
    bool empty() const { return nodes_.empty(); }
    const detail::GraphOp& op(std::size_t i) const { return *nodes_.at(i).op; }
    detail::GraphOp& op(std::size_t i) { return *nodes_.at(i).op; }
    const std::vector<int>& inputs_of(std::size_t i) const { return nodes_.at(i).inputs; }
    /// Most intermediate tensors held at once during forward().
    std::size_t slots() const { return slot_count_; }

    ImageShape output_shape(const ImageShape& in) const {
        if (nodes_.empty()) return in;
        std::vector<ImageShape> shapes(nodes_.size());
        std::vector<ImageShape> args;
        for (std::size_t i = 0; i < nodes_.size(); ++i) {
            args.clear();
            for (int j : nodes_[i].inputs) args.push_back(j == input_id ? in : shapes[static_cast<std::size_t>(j)]);
            shapes[i] = nodes_[i].op->output_shape(args);
        }
        return shapes.back();
    }

    void forward(const Tensor& in, Tensor& out, Workspace& ws) const {
        if (nodes_.empty()) {
            out = in;
            return;
        }
        if (plan_.size() != nodes_.size())
            throw argument_error("graph segment " + name_ + ": finish() was not called after the last add()");
        detail::ScratchFrame frame(ws);
        std::vector<Tensor*> slot(slot_count_);
        for (auto& s : slot) s = &frame.tensor();
        std::vector<const Tensor*> args;
        for (std::size_t i = 0; i < nodes_.size(); ++i) {
            args.clear();
            for (int j : nodes_[i].inputs)
                args.push_back(j == input_id ? &in : slot[plan_[static_cast<std::size_t>(j)]]);
            Tensor& result = i + 1 == nodes_.size() ? out : *slot[plan_[i]];
            nodes_[i].op->forward(args, result, ws);
        }
    }
    /// With scratch of its own for this call (pass a Workspace to reuse memory between calls).
    void forward(const Tensor& in, Tensor& out) const {
        Workspace ws;
        forward(in, out, ws);
    }

    /// What forward_train() keeps for backward(): the input and every op's output.
    struct Trace {
        Tensor input;
        std::vector<Tensor> outputs;
    };

    /// Forward pass for training: as forward(), keeping every tensor in trace.
    void forward_train(const Tensor& in, Tensor& out, Trace& trace) const {
        trace.input = in;
        trace.outputs.resize(nodes_.size());
        if (nodes_.empty()) {
            out = in;
            return;
        }
        Workspace ws;
        std::vector<const Tensor*> args;
        for (std::size_t i = 0; i < nodes_.size(); ++i) {
            args.clear();
            for (int j : nodes_[i].inputs)
                args.push_back(j == input_id ? &trace.input : &trace.outputs[static_cast<std::size_t>(j)]);
            nodes_[i].op->forward(args, trace.outputs[i], ws);
        }
        out = trace.outputs.back();
    }

    /// Backward pass after forward_train(): dout (consumed) is the loss gradient with respect to
    /// the output; stores every op's parameter gradients and writes the input's gradient to din
    /// unless it is null. The trace's outputs are kept.
    void backward(Trace& trace, Tensor& dout, Tensor* din) {
        const std::size_t n = nodes_.size();
        if (n == 0) {
            if (din) *din = std::move(dout);
            return;
        }
        if (trace.outputs.size() != n) throw argument_error("graph segment " + name_ + ": backward without forward_train");
        std::vector<Tensor> grad(n);
        std::vector<char> have(n, 0);
        grad[n - 1] = std::move(dout);
        have[n - 1] = 1;
        Tensor dinput;
        bool have_input = false;
        const auto accumulate = [](Tensor& sum, bool& has, Tensor& part) {
            if (!has) {
                sum = std::move(part);
                has = true;
                return;
            }
            float* s = sum.data();
            const float* p = part.data();
            for (std::size_t k = 0, m = sum.size(); k < m; ++k) s[k] += p[k];
        };
        std::vector<Tensor> parts;
        std::vector<Tensor*> dargs;
        std::vector<const Tensor*> args;
        for (std::size_t i = n; i-- > 0;) {
            const Node& node = nodes_[i];
            if (!have[i]) {  // read by nobody: its gradient is zero (its parameters' gradients too)
                const Tensor& o = trace.outputs[i];
                grad[i].resize(o.batch(), o.shape());
                std::fill(grad[i].data(), grad[i].data() + grad[i].size(), 0.0f);
            }
            args.clear();
            dargs.clear();
            parts.assign(node.inputs.size(), Tensor());
            for (std::size_t k = 0; k < node.inputs.size(); ++k) {
                const int j = node.inputs[k];
                args.push_back(j == input_id ? &trace.input : &trace.outputs[static_cast<std::size_t>(j)]);
                dargs.push_back(j == input_id && !din ? nullptr : &parts[k]);
            }
            node.op->backward(args, trace.outputs[i], grad[i], dargs);
            grad[i] = Tensor();  // no longer needed
            for (std::size_t k = 0; k < node.inputs.size(); ++k) {
                const int j = node.inputs[k];
                if (j == input_id) {
                    if (din) accumulate(dinput, have_input, parts[k]);
                } else {
                    bool has = have[static_cast<std::size_t>(j)];
                    accumulate(grad[static_cast<std::size_t>(j)], has, parts[k]);
                    have[static_cast<std::size_t>(j)] = has;
                }
            }
        }
        if (din) {
            if (!have_input) {  // the output does not depend on the input
                din->resize(trace.input.batch(), trace.input.shape());
                std::fill(din->data(), din->data() + din->size(), 0.0f);
            } else {
                *din = std::move(dinput);
            }
        }
    }

    /// Every op's trainable arrays, in op order.
    std::vector<ParameterRef> parameters() {
        std::vector<ParameterRef> out;
        for (auto& node : nodes_) node.op->parameters(out);
        return out;
    }

    /// The weights of every weighted op in Keras' terms, added to out by layer name.
    void keras_weights(ModelWeights& out) const {
        for (const auto& n : nodes_) n.op->keras_weights(out);
    }

private:
    struct Node {
        std::unique_ptr<detail::GraphOp> op;
        std::vector<int> inputs;
    };

    static std::vector<Node> copy(const std::vector<Node>& nodes) {
        std::vector<Node> out;
        out.reserve(nodes.size());
        for (const auto& n : nodes) out.push_back({n.op->clone(), n.inputs});
        return out;
    }

    std::vector<std::size_t> readers(int id) const {
        std::vector<std::size_t> r;
        for (std::size_t i = 0; i < nodes_.size(); ++i)
            for (int j : nodes_[i].inputs)
                if (j == id) {
                    r.push_back(i);
                    break;
                }
        return r;
    }

    /// A node whose only reader is a pooling it fuses with is merged into that reader.
    void fuse() {
        for (std::size_t i = 0; i + 1 < nodes_.size(); ++i) {
            const auto r = readers(static_cast<int>(i));
            if (r.size() != 1 || nodes_[r[0]].inputs.size() != 1) continue;
            Node& reader = nodes_[r[0]];
            if (!nodes_[i].op->fuses_with(*reader.op)) continue;
            reader.op = std::make_unique<detail::FusedPairOp>(std::move(nodes_[i].op), std::move(reader.op));
            reader.inputs = nodes_[i].inputs;
            remove(i);
            --i;  // the node now at i is the next one
        }
    }
    /// Removes a node nobody reads; later ids shift down by one.
    void remove(std::size_t gone) {
        nodes_.erase(nodes_.begin() + static_cast<std::ptrdiff_t>(gone));
        for (auto& n : nodes_)
            for (int& j : n.inputs)
                if (j > static_cast<int>(gone)) --j;
    }

    void plan() {
        const std::size_t n = nodes_.size();
        std::vector<std::size_t> last_use(n, 0);
        for (std::size_t i = 0; i < n; ++i)
            for (int j : nodes_[i].inputs)
                if (j != input_id) last_use[static_cast<std::size_t>(j)] = i;
        plan_.assign(n, 0);
        std::vector<char> busy;
        for (std::size_t i = 0; i < n; ++i) {
            if (i + 1 < n) {  // the last op writes the caller's output
                std::size_t s = 0;
                while (s < busy.size() && busy[s]) ++s;
                if (s == busy.size()) busy.push_back(0);
                busy[s] = 1;
                plan_[i] = s;
                if (last_use[i] <= i) busy[s] = 0;  // never read: free at once
            }
            // the inputs whose last reader this is free their slots (after the output took one:
            // an op never writes over its own input)
            for (int j : nodes_[i].inputs)
                if (j != input_id && last_use[static_cast<std::size_t>(j)] == i) busy[plan_[static_cast<std::size_t>(j)]] = 0;
        }
        slot_count_ = busy.size();
    }

    std::string name_;
    std::vector<Node> nodes_;
    std::vector<std::size_t> plan_;  // node -> slot of its output
    std::size_t slot_count_ = 0;
};

}  // namespace prunedef
