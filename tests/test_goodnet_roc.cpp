// goodnet_roc(): the ROC of G over k against areas and choices computed by hand.

#include <prunedef/defense/goodnet_roc.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <vector>

// Each test file in a namespace of its own: the test binary may be compiled as a unity build.
namespace test_goodnet_roc {

using namespace prunedef;

namespace {

std::vector<std::size_t> ks(const GoodNetRoc& roc) {
    std::vector<std::size_t> out;
    for (const RocPoint& p : roc.points) out.push_back(p.k);
    return out;
}

}  // namespace

TEST_CASE("goodnet_roc: points sorted by false-positive rate, AUC by trapezoids closed at (100, 100)") {
    // (k, false positives %, detection %), in step order
    const std::vector<RocPoint> points{{0, 0, 0}, {1, 10, 50}, {2, 10, 30}, {3, 40, 80}, {4, 20, 90}};
    const GoodNetRoc roc = goodnet_roc(points);
    // sorted: (0,0) k0, (10,30) k2, (10,50) k1, (20,90) k4, (40,80) k3
    CHECK(ks(roc) == std::vector<std::size_t>{0, 2, 1, 4, 3});
    // area in %^2: 0->10: 10*(0+30)/2 = 150; 10->10: 0; 10->20: 10*(50+90)/2 = 700;
    // 20->40: 20*(90+80)/2 = 1700; 40->100 (closing): 60*(80+100)/2 = 5400; total 7950
    CHECK(roc.auc == doctest::Approx(0.795).epsilon(1e-12));
    CHECK_FALSE(roc.max_fpr.has_value());
    CHECK_FALSE(roc.chosen.has_value());
}

TEST_CASE("goodnet_roc: the budget picks the highest detection within it") {
    const std::vector<RocPoint> points{{0, 0, 0}, {1, 10, 50}, {2, 10, 30}, {3, 40, 80}, {4, 20, 90}, {5, 30, 90},
                                       {6, 20, 90}};
    const auto chosen = [&](double budget) {
        const GoodNetRoc roc = goodnet_roc(points, budget);
        REQUIRE(roc.chosen.has_value());
        CHECK(*roc.max_fpr == budget);
        return roc.chosen->k;
    };
    CHECK(chosen(5) == 0);     // only k = 0 has no false positive
    CHECK(chosen(15) == 1);    // k0 (0 %), k2 (30 %), k1 (50 %)
    CHECK(chosen(10) == 1);    // the budget is inclusive
    CHECK(chosen(25) == 4);    // 90 % at 20 % false positives: k4 and k6 tie, the smaller k wins
    CHECK(chosen(100) == 4);   // k5 detects as much at 30 %: the lower false-positive rate wins
    const GoodNetRoc roc = goodnet_roc(points, 15.0);
    CHECK(roc.chosen->false_positive == 10);
    CHECK(roc.chosen->detection == 50);
}

TEST_CASE("goodnet_roc: k = 0 at (0, 0) is added when missing; a perfect and a useless detector") {
    const GoodNetRoc perfect = goodnet_roc({{3, 0, 100}});
    CHECK(ks(perfect) == std::vector<std::size_t>{0, 3});
    CHECK(perfect.auc == doctest::Approx(1.0));
    const GoodNetRoc useless = goodnet_roc({{0, 0, 0}});  // G never flags: the diagonal's area
    CHECK(useless.auc == doctest::Approx(0.5));
    const GoodNetRoc worse = goodnet_roc({{0, 0, 0}, {1, 50, 0}});  // flags clean inputs only
    // 0->50 at 0, 50->100: 50*(0+100)/2 = 2500
    CHECK(worse.auc == doctest::Approx(0.25));
    CHECK(goodnet_roc({{1, 50, 0}}, 40.0).chosen->k == 0);
}

TEST_CASE("goodnet_roc: refuses figures that are not percentages") {
    CHECK_THROWS_AS(goodnet_roc({{1, 101, 0}}), argument_error);
    CHECK_THROWS_AS(goodnet_roc({{1, 10, -1}}), argument_error);
    CHECK_THROWS_AS(goodnet_roc({{1, 10, std::nan("")}}), argument_error);
    CHECK_THROWS_AS(goodnet_roc({{0, 0, 0}}, -1.0), argument_error);
    CHECK_THROWS_AS(goodnet_roc({{0, 0, 0}}, 100.5), argument_error);
}

}  // namespace test_goodnet_roc
