#pragma once
// A small command-line parser for the prunedef tool: "--name value" options, "--flag" switches
// and positional arguments, each declared before parsing so that a typo is an error.

#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace prunedef_cli {

/// A usage mistake: printed with the command's help hint, exit code 2.
struct usage_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

class Args {
public:
    Args(std::set<std::string> options, std::set<std::string> flags) : options_(std::move(options)), flags_(std::move(flags)) {}

    void parse(int argc, char** argv, int first) {
        for (int i = first; i < argc; ++i) {
            const std::string a = argv[i];
            if (a == "--help" || a == "-h") {
                help_ = true;
            } else if (a.rfind("--", 0) == 0) {
                const std::string name = a.substr(2);
                if (flags_.count(name)) {
                    set_flags_.insert(name);
                } else if (options_.count(name)) {
                    if (i + 1 >= argc) throw usage_error("option --" + name + " needs a value");
                    values_[name] = argv[++i];
                } else {
                    throw usage_error("unknown option " + a);
                }
            } else {
                positional_.push_back(a);
            }
        }
    }

    bool help() const { return help_; }
    bool flag(const std::string& name) const { return set_flags_.count(name) > 0; }
    bool has(const std::string& name) const { return values_.count(name) > 0; }
    std::string get(const std::string& name, const std::string& fallback = "") const {
        auto it = values_.find(name);
        return it == values_.end() ? fallback : it->second;
    }
    std::string required(const std::string& name) const {
        if (!has(name)) throw usage_error("missing required option --" + name);
        return get(name);
    }
    double number(const std::string& name, double fallback) const {
        if (!has(name)) return fallback;
        return parse_number(name, get(name));
    }
    const std::vector<std::string>& positional() const { return positional_; }

    static double parse_number(const std::string& name, const std::string& text) {
        std::size_t used = 0;
        double v = 0;
        try {
            v = std::stod(text, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used == 0 || used != text.size()) throw usage_error("--" + name + ": '" + text + "' is not a number");
        return v;
    }

private:
    std::set<std::string> options_, flags_, set_flags_;
    std::map<std::string, std::string> values_;
    std::vector<std::string> positional_;
    bool help_ = false;
};

}  // namespace prunedef_cli
