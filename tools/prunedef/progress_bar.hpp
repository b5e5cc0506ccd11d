#pragma once
// Progress of long work on stderr: a bar redrawn in place when stderr is a terminal; otherwise
// (a log file, CI) one line every few seconds, "prunedef: STAGE: done/total images, R images/s,
// about S s left", and one when a stage ends that printed or took that long. Nothing with quiet.
// PRUNEDEF_PROGRESS_SECONDS sets the interval between lines (default 5; 0: a line per update).

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <unistd.h>

namespace prunedef_tool {

class ProgressBar {
public:
    explicit ProgressBar(bool quiet = false) : quiet_(quiet), terminal_(::isatty(2) != 0) {
        if (const char* s = std::getenv("PRUNEDEF_PROGRESS_SECONDS")) {
            char* end = nullptr;
            const double v = std::strtod(s, &end);
            if (end != s && *end == '\0' && v >= 0) interval_ = v;
        }
    }
    bool quiet() const { return quiet_; }
    bool terminal() const { return terminal_; }

    void update(const std::string& stage, std::size_t done, std::size_t total) {
        if (quiet_ || total == 0) return;
        const Clock::time_point now = Clock::now();
        if (stage != stage_) {
            stage_ = stage;
            start_ = last_ = now;
            printed_ = false;
        }
        const double elapsed = seconds(start_, now);
        const double rate = elapsed > 0 ? double(done) / elapsed : 0;
        const std::string speed =
            rate > 0 ? ", " + std::to_string(static_cast<long long>(rate + 0.5)) + " images/s" : std::string();
        const std::string left = rate > 0 && done < total
                                     ? ", about " + std::to_string(static_cast<long long>(double(total - done) / rate + 0.5)) +
                                           " s left"
                                     : std::string();
        if (terminal_) {
            const int width = 30, filled = static_cast<int>(width * done / total);
            std::fprintf(stderr, "\r%-12s [%s%s] %zu/%zu%s%s   ", stage.c_str(), std::string(filled, '#').c_str(),
                         std::string(width - filled, '.').c_str(), done, total, speed.c_str(), left.c_str());
            if (done >= total) std::fprintf(stderr, "\n");
            std::fflush(stderr);
            return;
        }
        const bool end = done >= total;
        if (end ? printed_ || elapsed >= interval_ : seconds(last_, now) >= interval_) {
            std::fprintf(stderr, "prunedef: %s: %zu/%zu images%s%s\n", stage.c_str(), done, total, speed.c_str(),
                         left.c_str());
            std::fflush(stderr);
            last_ = now;
            printed_ = true;
        }
    }

private:
    using Clock = std::chrono::steady_clock;
    static double seconds(Clock::time_point a, Clock::time_point b) {
        return std::chrono::duration<double>(b - a).count();
    }
    bool quiet_, terminal_;
    double interval_ = 5;
    std::string stage_;
    Clock::time_point start_{}, last_{};
    bool printed_ = false;
};

}  // namespace prunedef_tool
