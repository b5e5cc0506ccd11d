#pragma once
// A progress bar on stderr, drawn only when stderr is a terminal.

#include <cstdio>
#include <string>

#include <unistd.h>

namespace prunedef_tool {

class ProgressBar {
public:
    ProgressBar() : enabled_(::isatty(2) != 0) {}
    void update(const std::string& stage, std::size_t done, std::size_t total) {
        if (!enabled_ || total == 0) return;
        const int width = 30, filled = static_cast<int>(width * done / total);
        std::fprintf(stderr, "\r%-12s [%s%s] %zu/%zu", stage.c_str(), std::string(filled, '#').c_str(),
                     std::string(width - filled, '.').c_str(), done, total);
        if (done >= total) std::fprintf(stderr, "\n");
        std::fflush(stderr);
    }

private:
    bool enabled_;
};

}  // namespace prunedef_tool
