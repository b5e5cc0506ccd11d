#pragma once
// goodnet_roc(): the ROC of G = GoodNet<B, B'_k> over the pruning steps k.
//
// Each step k gives one detector: G flags an input (outputs class N) when B and B'_k disagree.
// Its point is (false-positive rate on clean inputs, detection rate on poisoned inputs), both in
// percent. At k = 0, B' = B, so G never flags: the point (0, 0) is always on the curve (it is
// added when the caller's points do not contain k = 0).
//
// The area under the curve is the trapezoid rule over the points sorted by false-positive rate
// (equal rates by detection rate, then k), closed on the right by the point (100, 100): the
// detector that flags every input, as in a standard ROC. It is a fraction in [0, 1] (1: a
// detector with no false positive that detects every poisoned input).
//
// With a false-positive budget, the chosen point is the step with the highest detection rate whose
// false-positive rate is at most the budget (ties: the lower false-positive rate, then the smaller
// k). k = 0 always qualifies, so a budget always has a choice.

#include <prunedef/core/error.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace prunedef {

/// One detector of the ROC: G at step k (percentages).
struct RocPoint {
    std::size_t k = 0;
    double false_positive = 0;  // clean inputs flagged, %
    double detection = 0;       // poisoned inputs flagged, %
};

struct GoodNetRoc {
    std::vector<RocPoint> points;       // sorted by false-positive rate, then detection, then k
    double auc = 0;                     // fraction in [0, 1]
    std::optional<double> max_fpr;      // the budget, when one was given
    std::optional<RocPoint> chosen;     // the best point within the budget
};

/// The ROC of points (any order; k = 0 at (0, 0) added when missing). max_fpr in percent.
inline GoodNetRoc goodnet_roc(std::vector<RocPoint> points, std::optional<double> max_fpr = std::nullopt) {
    for (const RocPoint& p : points)
        if (!std::isfinite(p.false_positive) || !std::isfinite(p.detection) || p.false_positive < 0 ||
            p.false_positive > 100 || p.detection < 0 || p.detection > 100)
            throw argument_error("goodnet_roc: the point of k = " + std::to_string(p.k) +
                                 " is not a pair of percentages in [0, 100]");
    if (max_fpr && (!std::isfinite(*max_fpr) || *max_fpr < 0 || *max_fpr > 100))
        throw argument_error("goodnet_roc: the false-positive budget must be a percentage in [0, 100]");
    if (std::none_of(points.begin(), points.end(), [](const RocPoint& p) { return p.k == 0; }))
        points.push_back({0, 0.0, 0.0});
    std::sort(points.begin(), points.end(), [](const RocPoint& a, const RocPoint& b) {
        if (a.false_positive != b.false_positive) return a.false_positive < b.false_positive;
        if (a.detection != b.detection) return a.detection < b.detection;
        return a.k < b.k;
    });
    GoodNetRoc roc;
    roc.points = points;
    roc.max_fpr = max_fpr;
    // trapezoids from (0, 0) through the points to (100, 100), in percent squared
    double area = 0, x = 0, y = 0;
    const auto step = [&](double nx, double ny) {
        area += (nx - x) * (y + ny) / 2;
        x = nx;
        y = ny;
    };
    for (const RocPoint& p : points) step(p.false_positive, p.detection);
    step(100, 100);
    roc.auc = area / 10000.0;
    if (max_fpr) {
        for (const RocPoint& p : points) {
            if (p.false_positive > *max_fpr) continue;
            const bool better = !roc.chosen || p.detection > roc.chosen->detection ||
                                (p.detection == roc.chosen->detection &&
                                 (p.false_positive < roc.chosen->false_positive ||
                                  (p.false_positive == roc.chosen->false_positive && p.k < roc.chosen->k)));
            if (better) roc.chosen = p;
        }
    }
    return roc;
}

}  // namespace prunedef
