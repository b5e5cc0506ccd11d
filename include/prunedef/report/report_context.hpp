#pragma once
// ReportContext: what a report says about where its numbers came from (files and settings).

#include <string>

namespace prunedef {

struct ReportContext {
    std::string model;      // path of B's weights
    std::string valid;      // validation set
    std::string test;       // clean test set, "" if none
    std::string poisoned;   // poisoned set, "" if none
    float input_scale = 1.0f;
    std::string architecture;  // how B's architecture is known and run (one line), "" to omit
};

}  // namespace prunedef
