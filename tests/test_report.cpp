// The report writers (CSV, Markdown, JSON, SVG) on a RepairResult built by hand: 4 channels, a
// curve of 5 points, one threshold reached and one not; then the same without test and poisoned
// sets, where every figure of those sets must be blank or null.

#include "shared_data.hpp"

#include <prunedef/report/json_report.hpp>
#include <prunedef/report/markdown_report.hpp>
#include <prunedef/report/svg_plot.hpp>
#include <prunedef/report/sweep_csv.hpp>
#include <prunedef/report/write_report.hpp>

#include <nlohmann/json.hpp>

#include <cctype>
#include <cmath>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

// Each test file in a namespace of its own: the test binary may be compiled as a unity build.
namespace test_report {

using namespace prunedef;

namespace {

RepairResult sample_result() {
    RepairResult r;
    r.policy = "increasing";
    r.site = ActivationSite::pooled;
    r.pruned_layer = "conv_3";
    r.channels = 4;
    r.classes = 10;
    r.valid_images = 400;
    r.test_images = 800;
    r.poisoned_images = 200;
    r.activations.mean = {0.5, 2.25, 0.125, 1.0};
    r.activations.images = 400;
    r.order = {2, 0, 3, 1};
    const double valid[] = {90.0, 89.5, 87.25, 80.0, 60.0};
    const double test[] = {88.22, 88.0, 86.5, 79.125, 59.0};
    const double asr[] = {99.99, 99.5, 40.0, 10.0, 5.0};
    // G = GoodNet<B, B'_k>
    const double g_valid[] = {90.0, 89.0, 86.0, 78.0, 55.0}, g_valid_fpr[] = {0.0, 0.5, 2.0, 5.0, 20.0};
    const double g_test[] = {88.22, 87.5, 85.0, 77.0, 54.0}, g_test_fpr[] = {0.0, 0.25, 1.5, 4.0, 21.0};
    const double g_asr[] = {99.99, 99.0, 38.0, 8.0, 2.0}, g_detect[] = {0.0, 0.5, 60.0, 90.0, 96.0};
    r.poisoned_sets = {{"poisoned", 200}};
    std::vector<RocPoint> roc;
    for (std::size_t k = 0; k <= 4; ++k) {
        CurvePoint p;
        p.k = k;
        if (k > 0) p.channel = r.order[k - 1];
        p.fraction_pruned = double(k) / 4.0;
        p.valid_accuracy = valid[k];
        p.test_accuracy = test[k];
        p.attack_success = asr[k];
        p.goodnet_valid_accuracy = g_valid[k];
        p.goodnet_valid_fpr = g_valid_fpr[k];
        p.goodnet_test_accuracy = g_test[k];
        p.goodnet_test_fpr = g_test_fpr[k];
        p.poisoned = {{asr[k], g_asr[k], g_detect[k]}};
        roc.push_back({k, g_test_fpr[k], g_detect[k]});
        r.curve.push_back(p);
    }
    r.roc = {goodnet_roc(roc, 2.0)};

    ThresholdResult t;
    t.drop = {2.0, false};
    t.reached = true;
    t.k = 2;
    t.fraction_pruned = 0.5;
    t.pruned_channels = {2, 0};
    t.valid_accuracy = 87.25;
    t.test_accuracy = 86.5;
    t.attack_success = 40.0;
    t.goodnet_valid = {400, 340, 20, 40};
    t.goodnet_test = GoodNetCounts{800, 680, 40, 80};
    t.goodnet_poisoned = GoodNetCounts{200, 10, 180, 10};
    t.poisoned_attack_success = {40.0};
    t.goodnet_poisoned_sets = {*t.goodnet_poisoned};
    r.thresholds.push_back(t);

    ThresholdResult u;
    u.drop = {50.0, true};
    u.reached = false;
    u.k = 4;
    u.fraction_pruned = 1.0;
    u.pruned_channels = {2, 0, 3, 1};
    u.valid_accuracy = 60.0;
    u.test_accuracy = 59.0;
    u.attack_success = 5.0;
    u.goodnet_valid = {400, 230, 160, 10};
    u.goodnet_test = GoodNetCounts{800, 460, 320, 20};
    u.goodnet_poisoned = GoodNetCounts{200, 2, 196, 2};
    u.poisoned_attack_success = {5.0};
    u.goodnet_poisoned_sets = {*u.goodnet_poisoned};
    r.thresholds.push_back(u);
    return r;
}

/// The same repair as if only a validation set had been given.
RepairResult validation_only() {
    RepairResult r = sample_result();
    r.test_images = r.poisoned_images = 0;
    r.poisoned_sets.clear();
    r.roc.clear();
    for (auto& p : r.curve) {
        p.test_accuracy = p.attack_success = p.goodnet_test_accuracy = p.goodnet_test_fpr = std::nullopt;
        p.poisoned.clear();
    }
    for (auto& t : r.thresholds) {
        t.test_accuracy = t.attack_success = std::nullopt;
        t.goodnet_test = t.goodnet_poisoned = std::nullopt;
        t.poisoned_attack_success.clear();
        t.goodnet_poisoned_sets.clear();
    }
    return r;
}

/// The sample repair with a second poisoned set "sun glasses,2" (a name that needs CSV quoting).
RepairResult two_poisoned_sets() {
    RepairResult r = sample_result();
    r.poisoned_sets.push_back({"sun glasses,2", 50});
    const double asr2[] = {98.0, 96.0, 94.0, 10.0, 0.0}, g_detect2[] = {0.0, 2.0, 4.0, 84.0, 98.0};
    std::vector<RocPoint> roc;
    for (std::size_t k = 0; k <= 4; ++k) {
        r.curve[k].poisoned.push_back({asr2[k], asr2[k] - 0.5 * double(k > 0), g_detect2[k]});
        roc.push_back({k, *r.curve[k].goodnet_test_fpr, g_detect2[k]});
    }
    r.roc.push_back(goodnet_roc(roc, 2.0));
    r.thresholds[0].poisoned_attack_success.push_back(94.0);
    r.thresholds[0].goodnet_poisoned_sets.push_back({50, 46, 2, 2});
    r.thresholds[1].poisoned_attack_success.push_back(0.0);
    r.thresholds[1].goodnet_poisoned_sets.push_back({50, 0, 49, 1});
    return r;
}

ReportContext sample_context() {
    ReportContext c;
    c.model = "models/bd_net.h5";
    c.valid = "data/clean_validation_data.h5";
    c.test = "data/clean_test_data.h5";
    c.poisoned = "data/sunglasses_poisoned_data.h5";
    c.input_scale = 0.5f;
    c.architecture = "graph network of 9 layers";
    return c;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::size_t count(const std::string& text, const std::string& part) {
    std::size_t n = 0;
    for (auto pos = text.find(part); pos != std::string::npos; pos = text.find(part, pos + part.size())) ++n;
    return n;
}

/// A strict JSON validator (RFC 8259 grammar, no extensions, text in UTF-8): true when text is
/// one JSON value.
class JsonChecker {
public:
    explicit JsonChecker(const std::string& text) : s_(text) {}
    bool valid() {
        ws();
        if (!value()) return false;
        ws();
        return i_ == s_.size();
    }

private:
    bool value() {
        if (i_ >= s_.size()) return false;
        switch (s_[i_]) {
            case '{': return object();
            case '[': return array();
            case '"': return string();
            case 't': return literal("true");
            case 'f': return literal("false");
            case 'n': return literal("null");
            default: return number();
        }
    }
    bool object() {
        ++i_;
        ws();
        if (peek('}')) return ++i_, true;
        for (;;) {
            ws();
            if (!string()) return false;
            ws();
            if (!peek(':')) return false;
            ++i_;
            ws();
            if (!value()) return false;
            ws();
            if (peek('}')) return ++i_, true;
            if (!peek(',')) return false;
            ++i_;
        }
    }
    bool array() {
        ++i_;
        ws();
        if (peek(']')) return ++i_, true;
        for (;;) {
            ws();
            if (!value()) return false;
            ws();
            if (peek(']')) return ++i_, true;
            if (!peek(',')) return false;
            ++i_;
        }
    }
    bool string() {
        if (!peek('"')) return false;
        for (++i_; i_ < s_.size(); ++i_) {
            const auto c = static_cast<unsigned char>(s_[i_]);
            if (c == '"') return ++i_, true;
            if (c < 0x20) return false;
            if (c >= 0x80 && !utf8_sequence()) return false;
            if (c == '\\') {
                if (++i_ >= s_.size()) return false;
                const char e = s_[i_];
                if (e == 'u') {
                    for (int d = 0; d < 4; ++d)
                        if (++i_ >= s_.size() || !std::isxdigit(static_cast<unsigned char>(s_[i_]))) return false;
                } else if (std::string("\"\\/bfnrt").find(e) == std::string::npos) {
                    return false;
                }
            }
        }
        return false;
    }
    /// At a byte >= 0x80: one well-formed UTF-8 sequence (no overlong forms, no surrogates, at
    /// most U+10FFFF); leaves i_ on its last byte.
    bool utf8_sequence() {
        const auto c = static_cast<unsigned char>(s_[i_]);
        std::size_t extra = 0;
        unsigned lo = 0x80, hi = 0xbf;  // range of the first continuation byte
        if (c >= 0xc2 && c <= 0xdf) extra = 1;
        else if (c == 0xe0) extra = 2, lo = 0xa0;
        else if (c == 0xed) extra = 2, hi = 0x9f;
        else if (c >= 0xe1 && c <= 0xef) extra = 2;
        else if (c == 0xf0) extra = 3, lo = 0x90;
        else if (c >= 0xf1 && c <= 0xf3) extra = 3;
        else if (c == 0xf4) extra = 3, hi = 0x8f;
        else return false;
        for (std::size_t k = 1; k <= extra; ++k) {
            if (i_ + k >= s_.size()) return false;
            const auto d = static_cast<unsigned char>(s_[i_ + k]);
            if (d < (k == 1 ? lo : 0x80u) || d > (k == 1 ? hi : 0xbfu)) return false;
        }
        i_ += extra;
        return true;
    }
    bool number() {
        const std::size_t start = i_;
        if (peek('-')) ++i_;
        if (peek('0')) ++i_;
        else if (!digits()) return false;
        if (peek('.')) {
            ++i_;
            if (!digits()) return false;
        }
        if (peek('e') || peek('E')) {
            ++i_;
            if (peek('+') || peek('-')) ++i_;
            if (!digits()) return false;
        }
        return i_ > start;
    }
    bool digits() {
        const std::size_t start = i_;
        while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) ++i_;
        return i_ > start;
    }
    bool literal(const char* word) {
        const std::string w(word);
        if (s_.compare(i_, w.size(), w) != 0) return false;
        i_ += w.size();
        return true;
    }
    bool peek(char c) const { return i_ < s_.size() && s_[i_] == c; }
    void ws() {
        while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\r' || s_[i_] == '\t')) ++i_;
    }

    const std::string& s_;
    std::size_t i_ = 0;
};

bool valid_json(const std::string& text) { return JsonChecker(text).valid(); }

/// Every start tag is closed in order (self-closing tags aside) and no text holds a raw '<' or '&'
/// that is not an entity: enough to catch unescaped text and unbalanced elements.
bool tags_balanced(const std::string& svg) {
    std::vector<std::string> open;
    for (std::size_t i = 0; i < svg.size(); ++i) {
        if (svg[i] == '&') {
            const auto semi = svg.find(';', i);
            if (semi == std::string::npos || semi - i > 6) return false;
            continue;
        }
        if (svg[i] != '<') continue;
        const auto end = svg.find('>', i);
        if (end == std::string::npos) return false;
        const std::string tag = svg.substr(i + 1, end - i - 1);
        i = end;
        if (tag.empty()) return false;
        if (tag.back() == '/') continue;
        if (tag.front() == '/') {
            if (open.empty() || open.back() != tag.substr(1)) return false;
            open.pop_back();
            continue;
        }
        const std::string name = tag.substr(0, tag.find(' '));
        if (name.empty() || !std::isalpha(static_cast<unsigned char>(name.front()))) return false;
        open.push_back(name);
    }
    return open.empty();
}

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

}  // namespace

TEST_CASE("report: sweep CSV, one row per curve point") {
    // one poisoned set: the columns of earlier versions first, then G's
    CHECK(sweep_csv(sample_result()) ==
          "k,channel,fraction_pruned,valid_acc,test_acc,asr,g_valid_acc,g_valid_fpr,g_test_acc,g_test_fpr,g_asr,g_detect\n"
          "0,,0.0000,90.000,88.220,99.990,90.000,0.000,88.220,0.000,99.990,0.000\n"
          "1,2,0.2500,89.500,88.000,99.500,89.000,0.500,87.500,0.250,99.000,0.500\n"
          "2,0,0.5000,87.250,86.500,40.000,86.000,2.000,85.000,1.500,38.000,60.000\n"
          "3,3,0.7500,80.000,79.125,10.000,78.000,5.000,77.000,4.000,8.000,90.000\n"
          "4,1,1.0000,60.000,59.000,5.000,55.000,20.000,54.000,21.000,2.000,96.000\n");
}

TEST_CASE("report: sweep CSV with several poisoned sets has three columns per set, named after it") {
    CHECK(sweep_csv(two_poisoned_sets()) ==
          "k,channel,fraction_pruned,valid_acc,test_acc,g_valid_acc,g_valid_fpr,g_test_acc,g_test_fpr,"
          "asr_poisoned,g_asr_poisoned,g_detect_poisoned,\"asr_sun glasses,2\",\"g_asr_sun glasses,2\","
          "\"g_detect_sun glasses,2\"\n"
          "0,,0.0000,90.000,88.220,90.000,0.000,88.220,0.000,99.990,99.990,0.000,98.000,98.000,0.000\n"
          "1,2,0.2500,89.500,88.000,89.000,0.500,87.500,0.250,99.500,99.000,0.500,96.000,95.500,2.000\n"
          "2,0,0.5000,87.250,86.500,86.000,2.000,85.000,1.500,40.000,38.000,60.000,94.000,93.500,4.000\n"
          "3,3,0.7500,80.000,79.125,78.000,5.000,77.000,4.000,10.000,8.000,90.000,10.000,9.500,84.000\n"
          "4,1,1.0000,60.000,59.000,55.000,20.000,54.000,21.000,5.000,2.000,96.000,0.000,-0.500,98.000\n");
}

TEST_CASE("report: sweep CSV leaves test and ASR cells empty without those sets") {
    CHECK(sweep_csv(validation_only()) ==
          "k,channel,fraction_pruned,valid_acc,test_acc,asr,g_valid_acc,g_valid_fpr\n"
          "0,,0.0000,90.000,,,90.000,0.000\n"
          "1,2,0.2500,89.500,,,89.000,0.500\n"
          "2,0,0.5000,87.250,,,86.000,2.000\n"
          "3,3,0.7500,80.000,,,78.000,5.000\n"
          "4,1,1.0000,60.000,,,55.000,20.000\n");
    RepairResult empty;
    CHECK(sweep_csv(empty) == "k,channel,fraction_pruned,valid_acc,test_acc,asr,g_valid_acc,g_valid_fpr\n");
}

TEST_CASE("report: Markdown run description, baseline and threshold table") {
    const std::string md = markdown_report(sample_result(), sample_context());
    CHECK(md.rfind("# ", 0) == 0);
    CHECK(contains(md, "`conv_3`"));
    CHECK(contains(md, "- Model B: `models/bd_net.h5`\n"));
    CHECK(contains(md, "- Input scale: 0.5\n"));
    CHECK(contains(md, "`data/clean_validation_data.h5` (400 images)"));
    CHECK(contains(md, "`data/clean_test_data.h5` (800 images)"));
    CHECK(contains(md, "`data/sunglasses_poisoned_data.h5` (200 images)"));
    CHECK(contains(md, "`increasing`"));
    CHECK(contains(md, "activation site: pooled"));
    CHECK(contains(md, "4 channels"));
    CHECK(contains(md, "- Validation accuracy: 90.00 %\n"));
    CHECK(contains(md, "- Test accuracy: 88.22 %\n"));
    CHECK(contains(md, "- Attack success rate: 99.99 %\n"));
    CHECK(count(md, "| X | channels pruned |") == 1);
    CHECK(contains(md, "| 2 pts | 2 of 4 | 0.500 | 86.50 | 40.00 | 85.00 | 5.00 | 90.00 | 5.00 |\n"));
    CHECK(contains(md,
                   "| 50 % rel. (not reached) | 4 of 4 | 1.000 | 59.00 | 5.00 | 57.50 | 1.00 | 98.00 | 40.00 |\n"));
    CHECK(contains(md, "Clean figures are on the test set (800 images)"));
    CHECK(contains(md, "X = 50 % rel. was not reached"));
    CHECK(contains(md, "First channels pruned (`increasing` order): 2, 0, 3, 1 (4 in the order)."));
}

TEST_CASE("report: Markdown quotes validation and blanks without test and poisoned sets") {
    ReportContext c = sample_context();
    c.test = c.poisoned = "";
    const std::string md = markdown_report(validation_only(), c);
    CHECK(contains(md, "- Clean test set: none\n"));
    CHECK(contains(md, "- Poisoned set: none\n"));
    CHECK(contains(md, "- Test accuracy: – (no test set)\n"));
    CHECK(contains(md, "- Attack success rate: – (no poisoned set)\n"));
    // Clean figures from validation: B' 87.25, G matched 340/400, flagged 20/400.
    CHECK(contains(md, "| 2 pts | 2 of 4 | 0.500 | 87.25 | – | 85.00 | – | – | 5.00 |\n"));
    CHECK(contains(md, "| 50 % rel. (not reached) | 4 of 4 | 1.000 | 60.00 | – | 57.50 | – | – | 40.00 |\n"));
    CHECK(contains(md, "Clean figures are on the validation set (400 images; no test set was given)"));
}

TEST_CASE("report: Markdown gives G's ROC AUC and the step chosen for the false-positive budget") {
    const std::string md = markdown_report(sample_result(), sample_context());
    CHECK(contains(md, "## G's trade-off over k\n"));
    CHECK(contains(md, "false-positive rate (clean inputs flagged as N) on the test set"));
    CHECK(contains(md, "- `poisoned`: ROC AUC 0.9548; with false positives at most 2.00 %: k = 2 of 4 channels "
                       "pruned, detection 60.00 %, false positives 1.50 %\n"));
    CHECK(!contains(markdown_report(validation_only(), sample_context()), "trade-off"));
}

TEST_CASE("report: Markdown with several poisoned sets has columns and lines per set") {
    ReportContext c = sample_context();
    c.poisoned_files = {"data/sunglasses_poisoned_data.h5", "data/other.h5"};
    const std::string md = markdown_report(two_poisoned_sets(), c);
    CHECK(contains(md, "- Poisoned set `poisoned`: `data/sunglasses_poisoned_data.h5` (200 images)\n"));
    CHECK(contains(md, "- Poisoned set `sun glasses,2`: `data/other.h5` (50 images)\n"));
    CHECK(contains(md, "- Attack success rate on `poisoned`: 99.99 %\n- Attack success rate on `sun glasses,2`: 98.00 %\n"));
    CHECK(contains(md, "| X | channels pruned | fraction | B' clean acc (%) | B' ASR `poisoned` (%) | "
                       "B' ASR `sun glasses,2` (%) | G clean acc (%) | G ASR `poisoned` (%) | G ASR `sun glasses,2` (%) | "
                       "G detection `poisoned` (%) | G detection `sun glasses,2` (%) | G false positives (%) |\n"
                       "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"));
    // test set: B' 86.5, G 680/800 matched, 40/800 flagged; set 2: B' 94, G 46/50 and 2/50
    CHECK(contains(md, "| 2 pts | 2 of 4 | 0.500 | 86.50 | 40.00 | 94.00 | 85.00 | 5.00 | 92.00 | 90.00 | 4.00 | 5.00 |\n"));
    CHECK(contains(md, "ASR and detection on each poisoned set."));
    CHECK(contains(md, "- `sun glasses,2`: ROC AUC "));
    const nlohmann::json j = nlohmann::json::parse(json_report(two_poisoned_sets(), c));
    CHECK(j["poisoned_sets"][1] ==
          nlohmann::json{{"name", "sun glasses,2"}, {"file", "data/other.h5"}, {"images", 50}, {"clean_floor", nullptr}});
    CHECK(j["curve"][1]["poisoned"][1]["goodnet_attack_success"] == 95.5);
    CHECK(j["thresholds"][1]["poisoned_sets"][1]["goodnet"]["flagged"] == 49);
    CHECK(j["roc"].size() == 2);
}

TEST_CASE("report: Markdown code spans survive backticks and Markdown characters") {
    ReportContext c = sample_context();
    c.model = "a`b|c*d";
    const std::string md = markdown_report(sample_result(), c);
    CHECK(contains(md, "- Model B: ``a`b|c*d``\n"));
    c.model = "`x`";
    CHECK(contains(markdown_report(sample_result(), c), "- Model B: `` `x` ``\n- Architecture: graph network of 9 layers\n"));
}

TEST_CASE("report: JSON is valid and holds every field") {
    const std::string js = json_report(sample_result(), sample_context());
    REQUIRE(valid_json(js));
    CHECK(js.back() == '\n');
    const nlohmann::json j = nlohmann::json::parse(js);
    const nlohmann::ordered_json ordered = nlohmann::ordered_json::parse(js);
    std::vector<std::string> keys;
    for (const auto& [key, value] : ordered.items()) keys.push_back(key);
    CHECK(keys == std::vector<std::string>{"context", "policy", "activation_site", "pruned_layer", "channels",
                                           "classes", "images", "poisoned_sets", "ranks", "valid_features", "baseline", "order",
                                           "mean_activation", "activation_images", "curve", "thresholds", "roc", "warnings"});
    CHECK(j["context"] == nlohmann::json{{"model", "models/bd_net.h5"},
                                         {"valid", "data/clean_validation_data.h5"},
                                         {"test", "data/clean_test_data.h5"},
                                         {"poisoned", "data/sunglasses_poisoned_data.h5"},
                                         {"input_scale", 0.5},
                                         {"architecture", "graph network of 9 layers"},
                                         {"clean_reference", nullptr}});
    CHECK(j["policy"] == "increasing");
    CHECK(j["activation_site"] == "pooled");
    CHECK(j["pruned_layer"] == "conv_3");
    CHECK(j["channels"] == 4);
    CHECK(j["classes"] == 10);
    CHECK(j["images"] == nlohmann::json{{"valid", 400}, {"test", 800}, {"poisoned", 200}});
    CHECK(j["baseline"] == nlohmann::json{{"valid_accuracy", 90.0}, {"test_accuracy", 88.22}, {"attack_success", 99.99}});
    CHECK(j["order"] == nlohmann::json{2, 0, 3, 1});
    CHECK(j["mean_activation"] == nlohmann::json{0.5, 2.25, 0.125, 1.0});
    CHECK(j["activation_images"] == 400);
    REQUIRE(j["curve"].size() == 5);
    CHECK(j["curve"][0] == nlohmann::json{{"k", 0}, {"channel", nullptr}, {"fraction_pruned", 0.0}, {"valid_accuracy", 90.0},
                                          {"test_accuracy", 88.22}, {"attack_success", 99.99},
                                          {"goodnet_valid_accuracy", 90.0}, {"goodnet_valid_fpr", 0.0},
                                          {"goodnet_test_accuracy", 88.22}, {"goodnet_test_fpr", 0.0},
                                          {"poisoned", {{{"name", "poisoned"}, {"attack_success", 99.99},
                                                         {"goodnet_attack_success", 99.99}, {"goodnet_detection", 0.0}}}}});
    CHECK(j["curve"][3] == nlohmann::json{{"k", 3}, {"channel", 3}, {"fraction_pruned", 0.75}, {"valid_accuracy", 80.0},
                                          {"test_accuracy", 79.125}, {"attack_success", 10.0},
                                          {"goodnet_valid_accuracy", 78.0}, {"goodnet_valid_fpr", 5.0},
                                          {"goodnet_test_accuracy", 77.0}, {"goodnet_test_fpr", 4.0},
                                          {"poisoned", {{{"name", "poisoned"}, {"attack_success", 10.0},
                                                         {"goodnet_attack_success", 8.0}, {"goodnet_detection", 90.0}}}}});
    CHECK(j["poisoned_sets"] ==
          nlohmann::json{{{"name", "poisoned"}, {"file", "data/sunglasses_poisoned_data.h5"}, {"images", 200}, {"clean_floor", nullptr}}});
    // the ROC by hand: (0,0) (0.25,0.5) (1.5,60) (4,90) (21,96), closed at (100,100):
    // 0.0625 + 37.8125 + 187.5 + 1581 + 7742 = 9548.375 %^2
    REQUIRE(j["roc"].size() == 1);
    CHECK(j["roc"][0]["name"] == "poisoned");
    CHECK(j["roc"][0]["fpr_on"] == "test");
    CHECK(j["roc"][0]["auc"].get<double>() == doctest::Approx(0.9548375).epsilon(1e-12));
    CHECK(j["roc"][0]["max_fpr"] == 2.0);
    CHECK(j["roc"][0]["chosen"] == nlohmann::json{{"k", 2}, {"false_positive", 1.5}, {"detection", 60.0}});
    REQUIRE(j["roc"][0]["points"].size() == 5);
    CHECK(j["roc"][0]["points"][4] == nlohmann::json{{"k", 4}, {"false_positive", 21.0}, {"detection", 96.0}});
    REQUIRE(j["thresholds"].size() == 2);
    const nlohmann::json& t = j["thresholds"][0];
    CHECK(t["x"] == 2.0);
    CHECK(t["relative"] == false);
    CHECK(t["reached"] == true);
    CHECK(t["k"] == 2);
    CHECK(t["fraction_pruned"] == 0.5);
    CHECK(t["pruned_channels"] == nlohmann::json{2, 0});
    CHECK(t["repaired_valid_accuracy"] == 87.25);
    CHECK(t["repaired_test_accuracy"] == 86.5);
    CHECK(t["repaired_attack_success"] == 40.0);
    CHECK(t["goodnet_valid"] == nlohmann::json{{"images", 400}, {"matched", 340}, {"flagged", 20}, {"other", 40}});
    CHECK(t["goodnet_test"] == nlohmann::json{{"images", 800}, {"matched", 680}, {"flagged", 40}, {"other", 80}});
    CHECK(t["goodnet_poisoned"] == nlohmann::json{{"images", 200}, {"matched", 10}, {"flagged", 180}, {"other", 10}});
    CHECK(t["poisoned_sets"] ==
          nlohmann::json{{{"name", "poisoned"},
                          {"repaired_attack_success", 40.0},
                          {"goodnet", {{"images", 200}, {"matched", 10}, {"flagged", 180}, {"other", 10}}}}});
    CHECK(t["fine_tuned"].is_null());
    const nlohmann::json& u = j["thresholds"][1];
    CHECK(u["x"] == 50.0);
    CHECK(u["relative"] == true);
    CHECK(u["reached"] == false);
    CHECK(u["goodnet_poisoned"] == nlohmann::json{{"images", 200}, {"matched", 2}, {"flagged", 196}, {"other", 2}});
}

TEST_CASE("report: JSON of a Fine-Pruning result, with float settings in their shortest form") {
    RepairResult r = sample_result();
    FineTuneResult f;
    f.epochs = 10;
    f.learning_rate = 0.005f;
    f.lr_drop = 8;
    f.head_only = true;
    f.augment_erase = 0.25;
    f.sam_rho = 0.05f;
    f.sam_adaptive = true;
    f.distill_weight = 0.5f;
    f.distill_temperature = 2.0f;
    f.batch_size = 64;
    f.seed = 3;
    f.valid_accuracy = 88.5;
    f.test_accuracy = 87.75;
    f.attack_success = 2.5;
    f.goodnet_valid = {400, 350, 30, 20};
    f.goodnet_poisoned = GoodNetCounts{200, 4, 190, 6};
    f.poisoned_attack_success = {2.5};
    f.goodnet_poisoned_sets = {*f.goodnet_poisoned};
    r.thresholds[0].fine_tuned = f;
    ReportContext c = sample_context();
    c.input_scale = 1.0f / 255.0f;
    const std::string js = json_report(r, c);
    REQUIRE(valid_json(js));
    CHECK(contains(js, "\"input_scale\": 0.003921569"));  // the float's digits, not 0.0039215688593685627
    CHECK(contains(js, "\"learning_rate\": 0.005"));
    const nlohmann::json ft = nlohmann::json::parse(js)["thresholds"][0]["fine_tuned"];
    CHECK(ft == nlohmann::json{{"epochs", 10},
                               {"learning_rate", 0.005},
                               {"lr_drop", 8},
                               {"head_only", true},
                               {"weight_decay", 0.0},
                               {"augment_shift", 0},
                               {"augment_flip", false},
                               {"augment_erase", 0.25},
                               {"sam_rho", 0.05},
                               {"sam_adaptive", true},
                               {"distillation", {{"weight", 0.5}, {"temperature", 2.0}}},
                               {"batch_size", 64},
                               {"seed", 3},
                               {"clean_set", "valid"},
                               {"tuned_images", 0},
                               {"holdout_fraction", 0.0},
                               {"holdout_images", 0},
                               {"holdout_accuracy_before", nullptr},
                               {"holdout_accuracy", nullptr},
                               {"goodnet_holdout", nullptr},
                               {"chosen_epoch", nullptr},
                               {"holdout_accuracy_per_epoch", nlohmann::json::array()},
                               {"valid_accuracy", 88.5},
                               {"test_accuracy", 87.75},
                               {"attack_success", 2.5},
                               {"goodnet_valid", {{"images", 400}, {"matched", 350}, {"flagged", 30}, {"other", 20}}},
                               {"goodnet_test", nullptr},
                               {"goodnet_poisoned", {{"images", 200}, {"matched", 4}, {"flagged", 190}, {"other", 6}}},
                               {"poisoned_sets",
                                {{{"name", "poisoned"},
                                  {"repaired_attack_success", 2.5},
                                  {"goodnet", {{"images", 200}, {"matched", 4}, {"flagged", 190}, {"other", 6}}}}}}});
}

TEST_CASE("report: JSON has null for absent sets and non-finite numbers") {
    ReportContext c = sample_context();
    c.test = c.poisoned = "";
    RepairResult r = validation_only();
    r.activations.mean[1] = std::numeric_limits<double>::quiet_NaN();
    r.activations.mean[3] = std::numeric_limits<double>::infinity();
    r.curve[2].valid_accuracy = -std::numeric_limits<double>::infinity();
    const std::string js = json_report(r, c);
    REQUIRE(valid_json(js));
    CHECK(!contains(js, "nan"));
    CHECK(!contains(js, "inf"));
    const nlohmann::json j = nlohmann::json::parse(js);
    CHECK(j["context"]["test"].is_null());
    CHECK(j["context"]["poisoned"].is_null());
    CHECK(j["mean_activation"] == nlohmann::json{0.5, nullptr, 0.125, nullptr});
    CHECK(j["curve"][2]["valid_accuracy"].is_null());
    for (const auto& p : j["curve"]) {
        CHECK(p["test_accuracy"].is_null());
        CHECK(p["attack_success"].is_null());
        CHECK(p["goodnet_test_accuracy"].is_null());
        CHECK(p["goodnet_test_fpr"].is_null());
        CHECK(p["goodnet_valid_fpr"].is_number());
        CHECK(p["poisoned"] == nlohmann::json::array());
    }
    CHECK(j["roc"] == nlohmann::json::array());
    CHECK(j["poisoned_sets"] == nlohmann::json::array());
    for (const auto& t : j["thresholds"]) {
        CHECK(t["repaired_test_accuracy"].is_null());
        CHECK(t["goodnet_test"].is_null());
        CHECK(t["goodnet_poisoned"].is_null());
        CHECK(t["goodnet_valid"].is_object());
    }

    RepairResult empty;
    const std::string ej = json_report(empty, ReportContext{});
    REQUIRE(valid_json(ej));
    const nlohmann::json e = nlohmann::json::parse(ej);
    CHECK(e["baseline"].is_null());
    CHECK(e["curve"] == nlohmann::json::array());
    CHECK(e["thresholds"] == nlohmann::json::array());
    CHECK(e["context"]["model"].is_null());
}

TEST_CASE("report: JSON escapes quotes, backslashes and control characters") {
    ReportContext c = sample_context();
    c.model = std::string("a\"b\\c\nd\te") + char(1) + "f";
    RepairResult r = sample_result();
    r.pruned_layer = "conv\x1f";
    const std::string js = json_report(r, c);
    REQUIRE(valid_json(js));
    CHECK(contains(js, "\"model\": \"a\\\"b\\\\c\\nd\\te\\u0001f\""));
    CHECK(contains(js, "\"pruned_layer\": \"conv\\u001f\""));
    const nlohmann::json j = nlohmann::json::parse(js);
    CHECK(j["context"]["model"] == c.model);  // the text comes back as it went in
    CHECK(j["pruned_layer"] == r.pruned_layer);
    CHECK(!valid_json("{\"a\": nan}"));  // the checker itself rejects what it should
    CHECK(!valid_json("{\"a\": [1, 2}"));
    CHECK(!valid_json("{\"a\": \"x\ny\"}"));
    CHECK(!valid_json("{\"a\": \"\xff\"}"));
}

TEST_CASE("report: JSON replaces bytes that are not UTF-8 with U+FFFD and stays valid") {
    ReportContext c = sample_context();
    c.model = "models/caf\xe9.h5";              // Latin-1 e-acute: not UTF-8
    c.valid = "data/\xc3\xa9t\xc3\xa9.h5";     // valid UTF-8 ("été") is kept as it is
    c.test = "data/\xc3(.h5";                  // a lead byte without its continuation
    RepairResult r = sample_result();
    r.pruned_layer = "conv_\xff\xfe";
    const std::string js = json_report(r, c);
    REQUIRE(valid_json(js));
    nlohmann::json j;
    REQUIRE_NOTHROW(j = nlohmann::json::parse(js));  // nlohmann's parser rejects invalid UTF-8
    CHECK(j["context"]["model"] == "models/caf\xef\xbf\xbd.h5");
    CHECK(j["context"]["valid"] == "data/\xc3\xa9t\xc3\xa9.h5");
    CHECK(j["context"]["test"] == "data/\xef\xbf\xbd(.h5");
    CHECK(j["pruned_layer"] == "conv_\xef\xbf\xbd\xef\xbf\xbd");
    CHECK(j["channels"] == 4);  // the rest of the report is intact
}

TEST_CASE("report: SVG chart with a line per series, axes, legend and threshold markers") {
    const std::string svg = curve_svg(sample_result());
    CHECK(svg.rfind("<svg", 0) == 0);
    CHECK(svg.size() >= 7);
    CHECK(svg.compare(svg.size() - 7, 7, "</svg>\n") == 0);
    CHECK(tags_balanced(svg));
    // 760 px wide, or wider when the legend needs it (its texts measured conservatively)
    const double width = detail::curve_layout(sample_result()).width;
    CHECK(width >= 760);
    CHECK(contains(svg, "width=\"" + detail::svg_num(width) + "\" height=\"460\""));
    CHECK(count(svg, "<polyline") == 3);
    CHECK(contains(svg, ">fraction of conv channels pruned</text>"));
    CHECK(contains(svg, ">percent</text>"));
    CHECK(contains(svg, ">validation accuracy</text>"));
    CHECK(contains(svg, ">test accuracy</text>"));
    CHECK(contains(svg, ">attack success rate</text>"));
    CHECK(contains(svg, ">X=2</text>"));
    CHECK(contains(svg, ">X=50% rel. (not reached)</text>"));
    CHECK(count(svg, "stroke-dasharray=\"5 4\"") == 2 + 1);  // two markers and their legend entry
    CHECK(contains(svg, "conv_3"));
    CHECK(contains(svg, "increasing"));
    CHECK(!contains(svg, "nan"));
    // The validation line starts at (0, 90 %) and ends at (1, 60 %): x 70..590, y 390..50.
    CHECK(contains(svg, "points=\"70,84 200,85.7 "));
    CHECK(contains(svg, " 590,186\"/>"));
}

TEST_CASE("report: SVG without test and poisoned sets, and escaped names") {
    RepairResult r = validation_only();
    r.pruned_layer = "<conv&3>";
    const std::string svg = curve_svg(r);
    CHECK(tags_balanced(svg));
    CHECK(count(svg, "<polyline") == 1);
    CHECK(!contains(svg, ">test accuracy</text>"));
    CHECK(!contains(svg, ">attack success rate</text>"));
    CHECK(contains(svg, "&lt;conv&amp;3&gt;"));
    CHECK(!contains(svg, "<conv"));

    const std::string empty = curve_svg(RepairResult{});
    CHECK(tags_balanced(empty));
    CHECK(count(empty, "<polyline") == 0);
}

TEST_CASE("report: write_repair_report writes the five files atomically") {
    const auto dir = prunedef_test::scratch_dir("report");
    const RepairResult r = sample_result();
    const ReportContext c = sample_context();
    write_repair_report(dir.string(), r, c);
    CHECK(read_file(dir / "sweep.csv") == sweep_csv(r));
    CHECK(read_file(dir / "report.md") == markdown_report(r, c));
    // report.json is json_report() plus "files": every file of the run (here the five reports).
    nlohmann::json json = nlohmann::json::parse(read_file(dir / "report.json"));
    CHECK(json["files"] == nlohmann::json({"sweep.csv", "report.md", "curve.svg", "roc.svg", "report.json"}));
    json.erase("files");
    CHECK(json == nlohmann::json::parse(json_report(r, c)));
    CHECK(read_file(dir / "curve.svg") == curve_svg(r));
    CHECK(read_file(dir / "roc.svg") == roc_svg(r));
    std::size_t files = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        (void)entry;
        ++files;
    }
    CHECK(files == 5);  // no temporary files left behind

    CHECK_THROWS_AS(write_repair_report((dir / "missing").string(), r, c), io_error);
    std::filesystem::remove_all(dir);
}

TEST_CASE("report: ROC SVG with a line per poisoned set, sparse k labels, the budget and the chosen point") {
    const std::string svg = roc_svg(two_poisoned_sets());
    CHECK(tags_balanced(svg));
    CHECK(count(svg, "<polyline") == 2);
    CHECK(contains(svg, "false-positive rate on the test set (%)"));
    CHECK(contains(svg, ">poisoned</text>"));
    CHECK(contains(svg, ">sun glasses,2</text>"));
    CHECK(contains(svg, ">AUC 0.955</text>"));
    CHECK(contains(svg, ">chosen k</text>"));
    CHECK(contains(svg, ">k=0</text>"));
    // k = 0 and k = 1 of both sets sit within a few pixels of the origin: one label for them all
    CHECK(count(svg, ">k=") < 10);
    CHECK(count(svg, ">k=1<") == 0);
    const std::string none = roc_svg(validation_only());
    CHECK(tags_balanced(none));
    CHECK(contains(none, "no poisoned set: no ROC"));
    CHECK(count(none, "<polyline") == 0);
}

TEST_CASE("report: SVG curve with several poisoned sets draws an attack-success line per set") {
    const std::string svg = curve_svg(two_poisoned_sets());
    CHECK(tags_balanced(svg));
    CHECK(count(svg, "<polyline") == 4);  // validation, test, and one ASR line per set
    CHECK(contains(svg, ">ASR poisoned</text>"));
    CHECK(contains(svg, ">ASR sun glasses,…</text>"));
    CHECK(!contains(svg, ">attack success rate</text>"));
    CHECK(count(curve_svg(sample_result()), "<polyline") == 3);
    // a long name is cut, never inside a UTF-8 sequence
    CHECK(detail::svg_shorten("sun glasses,2", 12) == "sun glasses,…");
    CHECK(detail::svg_shorten("abcdefghijk\xc3\xa9z", 12) == "abcdefghijk…");
    CHECK(detail::svg_shorten("short", 12) == "short");
}

TEST_CASE("report: warnings lead report.md and are listed in report.json") {
    RepairResult r = sample_result();
    CHECK(!contains(markdown_report(r, sample_context()), "## Warnings"));
    CHECK(nlohmann::json::parse(json_report(r, sample_context()))["warnings"] == nlohmann::json::array());
    r.warnings = {"every image of the validation set has label 0: a poisoned set passed as --valid?"};
    const std::string md = markdown_report(r, sample_context());
    CHECK(md.find("## Warnings\n\n- every image of the validation set has label 0") < md.find("## What was run"));
    CHECK(nlohmann::json::parse(json_report(r, sample_context()))["warnings"] == nlohmann::json(r.warnings));
}

TEST_CASE("report: report.md's folded table gives B' at every k, per poisoned set") {
    const std::string md = markdown_report(two_poisoned_sets(), sample_context());
    CHECK(contains(md, "<details>\n<summary>B' at every step k: clean test accuracy and attack success rate"));
    CHECK(contains(md, "| k | fraction pruned | clean acc (%) | ASR `poisoned` (%) | ASR `sun glasses,2` (%) |\n"));
    CHECK(contains(md, "| 2 | 0.500 | 86.50 | 40.00 | 94.00 |\n"));
    CHECK(contains(md, "| 4 | 1.000 | 59.00 | 5.00 | 0.00 |\n\n</details>"));
    const std::string valid_only = markdown_report(validation_only(), sample_context());
    CHECK(contains(valid_only, "clean validation accuracy"));
    CHECK(contains(valid_only, "| 1 | 0.250 | 89.50 |\n"));
}

TEST_CASE("report: the Fine-Pruning table shows every poisoned set and says where the clean figures come from") {
    RepairResult r = two_poisoned_sets();
    FineTuneResult f;
    f.epochs = 2;
    f.learning_rate = 0.005f;
    f.clean_set = "holdout";
    f.tuned_images = 320;
    f.holdout_fraction = 0.2;
    f.holdout_images = 80;
    f.valid_accuracy = 99.0;  // on data it was tuned on: not what the table quotes
    f.holdout_accuracy_before = 85.0;
    f.holdout_accuracy = 87.5;
    f.goodnet_holdout = GoodNetCounts{80, 70, 6, 4};
    f.poisoned_attack_success = {3.0, 1.0};
    f.goodnet_poisoned_sets = {{200, 4, 190, 6}, {50, 1, 48, 1}};
    f.attack_success = 3.0;
    f.goodnet_poisoned = f.goodnet_poisoned_sets[0];
    r.thresholds[0].fine_tuned = f;
    const std::string md = markdown_report(r, sample_context());
    CHECK(contains(md, "Each B' fine-tuned on the validation set less a held-out fraction 0.2 (320 images)"));
    CHECK(contains(md, "| B' ASR before → after `poisoned` (%) | B' ASR before → after `sun glasses,2` (%) |"));
    CHECK(contains(md, "| 2 pts | 85.00 → 87.50 | 40.00 → 3.00 | 94.00 → 1.00 | 87.50 | 2.00 | 95.00 | 2.00 | 96.00 | 7.50 |\n"));
    CHECK(contains(md, "Clean figures before and after are on the 80 images held out of the validation set"));

    r.thresholds[0].fine_tuned->clean_set = "valid";
    CHECK(contains(markdown_report(r, sample_context()), "the data B' was fine-tuned on"));
    // with a test set, the page says so and nothing else (no sentence about the validation set)
    r.thresholds[0].fine_tuned->clean_set = "test";
    const std::string on_test = markdown_report(r, sample_context());
    CHECK(contains(on_test, "Clean figures before and after are on the test set (800 images)."));
    CHECK_FALSE(contains(on_test, "the data B' was fine-tuned on"));
}

TEST_CASE("report: a clean reference's ASR floor is quoted next to the ASR in report.md and report.json") {
    RepairResult r = two_poisoned_sets();
    ReportContext c = sample_context();
    const std::string without = markdown_report(r, c);
    CHECK_FALSE(contains(without, "clean floor"));
    CHECK_FALSE(contains(without, "Clean floor"));
    CHECK(nlohmann::json::parse(json_report(r, c))["poisoned_sets"][0]["clean_floor"].is_null());
    CHECK(nlohmann::json::parse(json_report(r, c))["context"]["clean_reference"].is_null());

    r.poisoned_sets[0].clean_floor = 1.85;
    r.poisoned_sets[1].clean_floor = 0.5;
    c.clean_reference = "models/clean.h5";
    FineTuneResult f;
    f.epochs = 1;
    f.clean_set = "test";
    f.poisoned_attack_success = {3.0, 1.0};
    f.goodnet_poisoned_sets = {{200, 4, 190, 6}, {50, 1, 48, 1}};
    r.thresholds[0].fine_tuned = f;
    const std::string md = markdown_report(r, c);
    CHECK(contains(md, "- Clean reference (ASR floor): `models/clean.h5`\n"));
    CHECK(contains(md, "- Attack success rate on `poisoned`: 99.99 % (clean floor 1.85 %)\n"));
    CHECK(contains(md, "- Attack success rate on `sun glasses,2`: 98.00 % (clean floor 0.50 %)\n"));
    // under the threshold table and under the Fine-Pruning table
    CHECK(count(md, "Clean floor of the ASR: `poisoned` 1.85 %, `sun glasses,2` 0.50 % (the share of the poisoned "
                    "images that the clean reference `models/clean.h5` classifies as the target") == 2);
    const nlohmann::json j = nlohmann::json::parse(json_report(r, c));
    CHECK(j["poisoned_sets"][0]["clean_floor"].get<double>() == 1.85);
    CHECK(j["poisoned_sets"][1]["clean_floor"].get<double>() == 0.5);
    CHECK(j["context"]["clean_reference"] == "models/clean.h5");

    // one poisoned set: the baseline line carries the floor
    RepairResult one = sample_result();
    one.poisoned_sets[0].clean_floor = 2.0;
    const std::string md1 = markdown_report(one, c);
    CHECK(contains(md1, "- Attack success rate: 99.99 % (clean floor 2.00 %)\n"));
    CHECK(contains(md1, "Clean floor of the ASR: 2.00 % (the share"));
}

namespace {

/// Every threshold label of curve_svg: inside the plot (so inside the picture), clear of every
/// other label and of every curve.
void check_label_layout(const RepairResult& r) {
    using F = detail::SvgFrame;
    const detail::CurveLayout l = detail::curve_layout(r);
    REQUIRE(l.labels.size() == r.thresholds.size());
    const detail::SvgBox picture{0, 0, l.width, F::height}, plot{F::left, F::top, F::right, F::bottom};
    for (std::size_t i = 0; i < l.labels.size(); ++i) {
        const detail::SvgBox& b = l.labels[i].box;
        INFO("label " << l.label_texts[i] << " at " << b.x0 << "," << b.y0 << " - " << b.x1 << "," << b.y1);
        CHECK(b.inside(picture));
        CHECK(b.inside(plot));
        // the box holds the text, measured conservatively
        CHECK(b.x1 - b.x0 >= detail::svg_text_width(l.label_texts[i], 12));
        for (std::size_t j = 0; j < i; ++j) CHECK(!b.overlaps(l.labels[j].box));
        for (const detail::SvgSeries& s : l.series)
            for (std::size_t p = 0; p + 1 < s.points.size(); ++p)
                CHECK(!detail::svg_segment_hits(F::x(s.points[p].first), F::y(s.points[p].second),
                                                F::x(s.points[p + 1].first), F::y(s.points[p + 1].second), b));
    }
    // every legend text ends inside the picture
    for (const std::string& text : l.legend) CHECK(F::right + 50 + detail::svg_text_width(text, 12) <= l.width);
    CHECK(contains(curve_svg(r), "width=\"" + detail::svg_num(l.width) + "\""));
}

}  // namespace

TEST_CASE("report: SVG threshold labels stay clear of each other and of the curves, even when close") {
    check_label_layout(sample_result());
    // four thresholds within two channels of each other, at a step where the curves are high
    RepairResult r = sample_result();
    r.channels = 64;
    r.curve.clear();
    for (std::size_t k = 0; k <= 64; ++k) {
        CurvePoint p;
        p.k = k;
        p.fraction_pruned = double(k) / 64;
        p.valid_accuracy = k < 30 ? 92 - 0.1 * double(k) : 89 - 2.0 * double(k - 30);
        p.test_accuracy = p.valid_accuracy - 0.5;
        p.attack_success = k < 20 ? 100 : 100 - 3.0 * double(k - 20);
        if (*p.attack_success < 0) p.attack_success = 0;
        if (p.valid_accuracy < 0) p.valid_accuracy = 0;
        r.curve.push_back(p);
    }
    r.thresholds.resize(4);
    const double xs[] = {2, 4, 10, 3};
    const std::size_t ks[] = {31, 32, 33, 31};
    for (std::size_t i = 0; i < 4; ++i) {
        r.thresholds[i].drop = {xs[i], i == 3};
        r.thresholds[i].k = ks[i];
        r.thresholds[i].reached = true;
        r.thresholds[i].fraction_pruned = double(ks[i]) / 64;
    }
    check_label_layout(r);
    r.thresholds[2].fraction_pruned = 1.0;  // at the right edge: the label goes left of its marker
    r.thresholds[2].reached = false;
    check_label_layout(r);
}

TEST_CASE("report: the SVG legends are never cut: the picture grows wider") {
    RepairResult r = sample_result();
    FineTuneResult f;
    f.valid_accuracy = 80;
    f.attack_success = 5;
    r.thresholds[0].fine_tuned = f;
    const detail::CurveLayout l = detail::curve_layout(r);
    CHECK(l.width > detail::SvgFrame::width);  // "fine-pruned: clean acc." does not fit in 760 px
    CHECK(detail::SvgFrame::right + 50 + detail::svg_text_width("fine-pruned: clean acc.", 12) <= l.width);
    CHECK(detail::svg_width_for_legend(640, 50) == detail::SvgFrame::width);  // short texts: the standard width
    r = two_poisoned_sets();
    r.poisoned_sets[1].name = "a rather long poisoned set name";
    const std::string roc = roc_svg(r);
    const auto at = roc.find("width=\"");
    REQUIRE(at != std::string::npos);
    const double width = std::stod(roc.substr(at + 7));
    CHECK(detail::SvgFrame::right + 50 + detail::svg_text_width(detail::svg_shorten(r.poisoned_sets[1].name, 21), 11) <=
          width);
    CHECK(width > detail::SvgFrame::width);
}

}  // namespace test_report
