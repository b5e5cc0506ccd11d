// prunedef batch: repairs every model of a manifest (CSV), one after another, each exactly as
// 'prunedef repair' would (the same CLI11 definitions parse each row, the same runner runs it),
// into DIR/<name>, then writes DIR/summary.csv and DIR/summary.md.
//
// Resumable: a model is repaired into DIR/.<name>.partial, its record DIR/.<name>.batch.json
// (the repair's arguments and its time) is written, and only then is the directory renamed to
// DIR/<name>. DIR/<name> therefore exists only complete; a later run skips it when its record
// holds the same arguments and its report.json (repair's last file) lists files that all exist.
// A killed run leaves at most a hidden .partial directory, removed by the next run.
//
// The loop is split so that models can be handed out to MPI ranks (batch_ranks.hpp, implemented
// in batch_mpi.cpp): ModelQueue::next() chooses the next model, run_model() does one model and
// returns a ModelOutcome (small, sent to rank 0 as JSON), and the summary is built from the
// outcomes and the models' report.json files. Under mpirun with R > 1 ranks, rank 0 alone checks
// the manifest, prepares and locks DIR and writes the summaries; each model is repaired whole, in
// one process, by the rank that takes it, which also decides whether it is complete (no other
// rank touches DIR/<name> or its partial directory).

#include "batch_ranks.hpp"
#include "common.hpp"

#include <prunedef/core/communicator.hpp>
#include <prunedef/io/atomic_output.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <utility>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace fs = std::filesystem;
using namespace prunedef;

namespace prunedef_tool {

namespace {

// ---------------------------------------------------------------------------------------------
// The manifest

/// A field of the CSV with where it starts (1-based line and character column).
struct CsvField {
    std::string text;
    std::size_t line = 0, column = 0;
};

/// A manifest mistake: "FILE:LINE:COLUMN: message".
usage_error manifest_error(const std::string& file, std::size_t line, std::size_t column, const std::string& what) {
    return usage_error("--manifest " + file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + what);
}

/// Strict CSV (RFC 4180): fields separated by ',', records by LF or CRLF; a field may be quoted
/// with '"' (a quote inside doubled), then it may hold ',', '"' and line breaks. Refused: a quote
/// inside an unquoted field, text after a closing quote, an unterminated quote, an empty line, a
/// NUL byte. The last record may end without a line break.
std::vector<std::vector<CsvField>> parse_csv(const std::string& file, const std::string& text) {
    std::vector<std::vector<CsvField>> rows;
    std::size_t i = 0, line = 1, line_start = 0;
    const auto column = [&](std::size_t pos) { return pos - line_start + 1; };
    while (i < text.size()) {
        std::vector<CsvField> row;
        if (text[i] == '\n' || (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n'))
            throw manifest_error(file, line, 1, "an empty line (every line is a record)");
        for (;;) {
            CsvField f;
            f.line = line;
            f.column = column(i);
            if (i < text.size() && text[i] == '"') {
                ++i;
                for (;;) {
                    if (i >= text.size()) throw manifest_error(file, f.line, f.column, "a quoted field is not closed");
                    const char c = text[i];
                    if (c == '"') {
                        if (i + 1 < text.size() && text[i + 1] == '"') {
                            f.text += '"';
                            i += 2;
                            continue;
                        }
                        ++i;
                        break;
                    }
                    if (c == '\0') throw manifest_error(file, line, column(i), "a NUL byte");
                    if (c == '\n') {
                        ++line;
                        line_start = i + 1;
                    }
                    f.text += c;
                    ++i;
                }
                if (i < text.size() && text[i] != ',' && text[i] != '\n' && text[i] != '\r')
                    throw manifest_error(file, line, column(i), "text after a closing quote");
            } else {
                while (i < text.size() && text[i] != ',' && text[i] != '\n' && text[i] != '\r') {
                    if (text[i] == '"')
                        throw manifest_error(file, line, column(i),
                                             "a quote inside an unquoted field (quote the whole field, doubling its quotes)");
                    if (text[i] == '\0') throw manifest_error(file, line, column(i), "a NUL byte");
                    f.text += text[i++];
                }
            }
            row.push_back(std::move(f));
            if (i < text.size() && text[i] == ',') {
                ++i;
                continue;
            }
            if (i < text.size() && text[i] == '\r') {
                if (i + 1 >= text.size() || text[i + 1] != '\n')
                    throw manifest_error(file, line, column(i), "a carriage return without a line feed");
                ++i;
            }
            if (i < text.size()) {  // '\n'
                ++i;
                ++line;
                line_start = i;
            }
            break;
        }
        rows.push_back(std::move(row));
    }
    return rows;
}

/// One row of the manifest, its paths resolved (absolute).
struct ManifestRow {
    std::string name;
    std::size_t line = 0;
    /// The arguments of 'prunedef repair' for this row, without --out, --quiet and --threads.
    std::vector<std::string> args;
};

/// What ranks send each other: JSON values as CBOR bytes, which carry any string byte for byte
/// (a path need not be UTF-8, which JSON text would refuse).
std::string to_bytes(const nlohmann::json& j) {
    const std::vector<std::uint8_t> cbor = nlohmann::json::to_cbor(j);
    return std::string(cbor.begin(), cbor.end());
}
nlohmann::json from_bytes(const std::string& bytes) { return nlohmann::json::from_cbor(bytes); }

/// The checked rows as rank 0 sends them to the other ranks, and back.
std::string rows_to_bytes(const std::vector<ManifestRow>& rows) {
    nlohmann::json out = nlohmann::json::array();
    for (const ManifestRow& m : rows) out.push_back({{"name", m.name}, {"line", m.line}, {"args", m.args}});
    return to_bytes(out);
}
std::vector<ManifestRow> rows_from_bytes(const std::string& bytes) {
    std::vector<ManifestRow> rows;
    for (const auto& r : from_bytes(bytes))
        rows.push_back({r.at("name").get<std::string>(), r.at("line").get<std::size_t>(),
                        r.at("args").get<std::vector<std::string>>()});
    return rows;
}

/// The columns of a manifest; name, model and valid are required.
const std::vector<std::string> manifest_columns{"name", "model", "scale", "valid", "test", "poisoned", "options"};

/// Options the manifest's own columns or the batch set: refused in the options column.
const std::set<std::string> reserved_options{"--model", "--scale", "--valid", "--test", "--poisoned", "--out",
                                             "--replace", "--quiet", "--threads", "--help", "-h"};
/// Options of the options column that name a file: resolved against the manifest's directory.
const std::set<std::string> file_options{"--config", "--clean-reference"};

/// path relative to the manifest's directory (unless absolute), made absolute.
std::string resolve(const fs::path& base, const std::string& path) {
    const fs::path p(path);
    return fs::absolute(p.is_absolute() ? p : base / p).lexically_normal().string();
}

/// The options column split into words: blanks separate them, '...' and "..." quote (no escapes).
std::vector<std::string> split_words(const std::string& file, const CsvField& f) {
    std::vector<std::string> words;
    std::string word;
    bool in_word = false;
    for (std::size_t i = 0; i < f.text.size(); ++i) {
        const char c = f.text[i];
        if (c == '\'' || c == '"') {
            const auto close = f.text.find(c, i + 1);
            if (close == std::string::npos)
                throw manifest_error(file, f.line, f.column, "options: a " + std::string(1, c) + " is not closed");
            word += f.text.substr(i + 1, close - i - 1);
            in_word = true;
            i = close;
        } else if (std::isspace(static_cast<unsigned char>(c))) {
            if (in_word) words.push_back(word);
            word.clear();
            in_word = false;
        } else {
            word += c;
            in_word = true;
        }
    }
    if (in_word) words.push_back(word);
    return words;
}

/// A model name: letters, digits, '_', '-', '.', '+', not starting with '.', not a summary's name.
bool valid_model_name(const std::string& name) {
    return !name.empty() && name.front() != '.' && name != "summary.csv" && name != "summary.md" &&
           std::all_of(name.begin(), name.end(), [](char c) {
               return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' || c == '+';
           });
}

/// A fresh parser of 'prunedef repair' (the tool's own definitions, with main.cpp's policies)
/// and its runner.
struct RepairParser {
    CLI::App app;
    CLI::App* sub = nullptr;
    Runner run;
    RepairParser() {
        app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::Throw);
        run = add_repair(app, /*single_process=*/true);  // under mpirun too: one rank repairs the model
        sub = app.get_subcommand("repair");
        for (CLI::Option* opt : sub->get_options())
            if (opt->get_type_size() == 0) opt->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    }
    ~RepairParser() { help_texts().erase(sub); }
    RepairParser(const RepairParser&) = delete;
    RepairParser& operator=(const RepairParser&) = delete;
    /// Parses "repair ARGS"; throws CLI::ParseError.
    void parse(const std::vector<std::string>& args) {
        std::vector<std::string> reversed(args.rbegin(), args.rend());
        reversed.push_back("repair");
        app.parse(reversed);
    }
};

/// One line of a CLI11 error.
std::string one_line(std::string text) {
    for (char& c : text)
        if (c == '\n' || c == '\r') c = ' ';
    return text;
}

/// Reads and checks the whole manifest before any work: the header, every row's fields, names
/// (valid and unique) and the repair options (parsed by repair's own CLI11 definitions).
std::vector<ManifestRow> read_manifest(const std::string& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) throw io_error(file + ": cannot open the manifest: " + std::strerror(errno));
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad()) throw io_error(file + ": cannot read the manifest");
    std::string text = ss.str();
    if (text.rfind("\xEF\xBB\xBF", 0) == 0) text.erase(0, 3);  // a UTF-8 byte order mark (spreadsheets write one)
    const std::vector<std::vector<CsvField>> rows = parse_csv(file, text);
    if (rows.empty()) throw manifest_error(file, 1, 1, "the manifest is empty (a header row is needed)");

    // The header: known column names, each once; name, model and valid present.
    std::vector<int> index_of(manifest_columns.size(), -1);
    const auto& header = rows[0];
    for (std::size_t c = 0; c < header.size(); ++c) {
        const auto it = std::find(manifest_columns.begin(), manifest_columns.end(), header[c].text);
        if (it == manifest_columns.end())
            throw manifest_error(file, header[c].line, header[c].column,
                                 "unknown column '" + header[c].text +
                                     "' (the columns are name, model, scale, valid, test, poisoned, options)");
        int& slot = index_of[std::size_t(it - manifest_columns.begin())];
        if (slot >= 0) throw manifest_error(file, header[c].line, header[c].column, "column '" + header[c].text + "' is given twice");
        slot = int(c);
    }
    for (const char* required : {"name", "model", "valid"})
        if (index_of[std::size_t(std::find(manifest_columns.begin(), manifest_columns.end(), required) -
                                 manifest_columns.begin())] < 0)
            throw manifest_error(file, 1, 1, std::string("the header has no '") + required + "' column");
    if (rows.size() == 1) throw manifest_error(file, 2, 1, "no model is listed (only the header)");

    const fs::path base = fs::path(file).parent_path();
    std::vector<ManifestRow> out;
    std::set<std::string> names;
    for (std::size_t r = 1; r < rows.size(); ++r) {
        const auto& row = rows[r];
        const std::size_t line = row.front().line;
        if (row.size() != header.size())
            throw manifest_error(file, line, row.back().column,
                                 "the row has " + std::to_string(row.size()) + " fields, the header " +
                                     std::to_string(header.size()));
        const auto field = [&](const char* column) -> const CsvField* {
            const int c = index_of[std::size_t(std::find(manifest_columns.begin(), manifest_columns.end(), column) -
                                               manifest_columns.begin())];
            return c < 0 ? nullptr : &row[std::size_t(c)];
        };
        const auto given = [&](const char* column) { return field(column) && !field(column)->text.empty(); };
        ManifestRow m;
        m.line = line;
        const CsvField& name = *field("name");
        m.name = name.text;
        if (!valid_model_name(m.name))
            throw manifest_error(file, name.line, name.column,
                                 "name '" + m.name +
                                     "': a name (the output directory) is letters, digits, '_', '-', '.' and '+', "
                                     "not starting with '.' (no '/'), and not summary.csv or summary.md");
        if (!names.insert(m.name).second)
            throw manifest_error(file, name.line, name.column, "name '" + m.name + "' is given twice");
        for (const char* required : {"model", "valid"})
            if (!given(required))
                throw manifest_error(file, field(required)->line, field(required)->column,
                                     std::string("the '") + required + "' column is empty");
        m.args = {"--model", resolve(base, field("model")->text)};
        if (given("scale")) m.args.insert(m.args.end(), {"--scale", field("scale")->text});
        m.args.insert(m.args.end(), {"--valid", resolve(base, field("valid")->text)});
        if (given("test")) m.args.insert(m.args.end(), {"--test", resolve(base, field("test")->text)});
        if (given("poisoned")) {
            const CsvField& f = *field("poisoned");
            std::stringstream list(f.text);
            std::string item;
            while (std::getline(list, item, ';')) {
                if (item.empty())
                    throw manifest_error(file, f.line, f.column, "poisoned: an empty set in '" + f.text + "'");
                // as repair reads it: NAME=FILE (a name without '/'), or FILE named by its stem
                const auto eq = item.find('=');
                if (eq != std::string::npos && eq > 0 && item.substr(0, eq).find('/') == std::string::npos)
                    item = item.substr(0, eq + 1) + (eq + 1 < item.size() ? resolve(base, item.substr(eq + 1)) : "");
                else
                    item = resolve(base, item);
                m.args.insert(m.args.end(), {"--poisoned", item});
            }
        }
        if (given("options")) {
            const CsvField& f = *field("options");
            std::vector<std::string> words = split_words(file, f);
            for (std::size_t w = 0; w < words.size(); ++w) {
                const std::string key = words[w].substr(0, words[w].find('='));
                if (reserved_options.count(key))
                    throw manifest_error(file, f.line, f.column,
                                         "options: " + key +
                                             " is set by the manifest's columns or by 'prunedef batch' itself, not here");
                if (file_options.count(key)) {
                    if (key.size() < words[w].size()) words[w] = key + "=" + resolve(base, words[w].substr(key.size() + 1));
                    else if (w + 1 < words.size()) words[w + 1] = resolve(base, words[w + 1]), ++w;
                }
            }
            m.args.insert(m.args.end(), words.begin(), words.end());
        }
        // The row's options through repair's own parser: a mistake is the manifest's, found now.
        try {
            RepairParser parser;
            std::vector<std::string> check = m.args;
            check.insert(check.end(), {"--out", "unused"});
            parser.parse(check);
        } catch (const CLI::ParseError& e) {
            const CsvField& where = given("options") ? *field("options") : name;
            throw manifest_error(file, where.line, where.column, "model '" + m.name + "': " + one_line(e.what()));
        }
        out.push_back(std::move(m));
    }
    return out;
}

// ---------------------------------------------------------------------------------------------
// One model

enum class ModelStatus { ok, failed, skipped_complete };

const char* status_text(ModelStatus s) {
    switch (s) {
    case ModelStatus::ok: return "ok";
    case ModelStatus::failed: return "failed";
    case ModelStatus::skipped_complete: return "skipped-complete";
    }
    return "?";
}

/// What one model's run gives back (small: what a rank sends to rank 0).
struct ModelOutcome {
    ModelStatus status = ModelStatus::failed;
    std::string message;  // why it failed
    double seconds = 0;   // the repair's wall time (read back from the record when skipped)
    std::string notes;    // what the repair said on stderr (warnings, notes)
};

/// A model's outcome as a rank sends it to rank 0 (the double goes exactly).
nlohmann::json outcome_to_json(std::size_t model, const ModelOutcome& o) {
    return {{"model", model}, {"status", status_text(o.status)}, {"message", o.message}, {"seconds", o.seconds},
            {"notes", o.notes}};
}
std::pair<std::size_t, ModelOutcome> outcome_from_json(const nlohmann::json& j) {
    ModelOutcome o;
    const std::string status = j.at("status").get<std::string>();
    bool known = false;
    for (ModelStatus s : {ModelStatus::ok, ModelStatus::failed, ModelStatus::skipped_complete})
        if (status == status_text(s)) o.status = s, known = true;
    if (!known) throw format_error("prunedef batch: a rank sent the unknown model status '" + status + "'");
    o.message = j.at("message").get<std::string>();
    o.seconds = j.at("seconds").get<double>();
    o.notes = j.at("notes").get<std::string>();
    return {j.at("model").get<std::size_t>(), std::move(o)};
}

/// Settings of the batch that every model's run shares.
struct BatchSettings {
    std::string out;
    std::vector<std::string> threads;  // {"--threads", "N"} or empty
};

fs::path model_dir(const BatchSettings& b, const ManifestRow& m) { return fs::path(b.out) / m.name; }
fs::path partial_dir(const BatchSettings& b, const ManifestRow& m) { return fs::path(b.out) / ("." + m.name + ".partial"); }
fs::path record_file(const BatchSettings& b, const ManifestRow& m) { return fs::path(b.out) / ("." + m.name + ".batch.json"); }

/// Parses a JSON file; nullopt when absent, unreadable or not JSON.
std::optional<nlohmann::json> read_json(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    try {
        return nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception&) {
        return std::nullopt;
    }
}

/// Whether DIR/<name> holds a complete repair made by the batch with the row's arguments; the
/// reason when not ("" when complete). The rule: the record exists, parses and holds the same
/// arguments; report.json (written last by repair) parses; every file its "files" lists exists.
std::string incomplete_reason(const BatchSettings& b, const ManifestRow& m, double& seconds) {
    const fs::path dir = model_dir(b, m);
    const auto record = read_json(record_file(b, m));
    if (!record || !record->is_object() || !record->contains("args") || !record->contains("seconds"))
        return dir.string() + " exists but was not made by 'prunedef batch' (no readable " +
               record_file(b, m).filename().string() + "); remove it to repair this model again";
    if ((*record)["args"] != nlohmann::json(m.args))
        return dir.string() + " was made with other settings than the manifest's row now gives; remove it to repair "
                              "this model again";
    const auto report = read_json(dir / "report.json");
    if (!report || !report->is_object() || !report->contains("files") || !(*report)["files"].is_array())
        return dir.string() + "/report.json is missing or unreadable: not a complete repair; remove the directory to "
                              "repair this model again";
    for (const auto& f : (*report)["files"]) {
        std::error_code ec;
        if (!f.is_string() || !fs::is_regular_file(dir / f.get<std::string>(), ec))
            return dir.string() + ": a file report.json lists is missing (" + (f.is_string() ? f.get<std::string>() : "?") +
                   "); remove the directory to repair this model again";
    }
    seconds = (*record)["seconds"].is_number() ? (*record)["seconds"].get<double>() : 0;
    return "";
}

/// Makes rename(2) of the directory durable.
void sync_directory(const fs::path& dir) {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        ::fsync(fd);
        ::close(fd);
    }
}

/// Restores a stream's buffer when it goes out of scope.
struct StreamCapture {
    std::ostream& stream;
    std::ostringstream text;  // before old: old's initialiser redirects the stream into text
    std::streambuf* old;
    explicit StreamCapture(std::ostream& s) : stream(s), old(s.rdbuf(text.rdbuf())) {}
    ~StreamCapture() { stream.rdbuf(old); }
    StreamCapture(const StreamCapture&) = delete;
    StreamCapture& operator=(const StreamCapture&) = delete;
};

/// Repairs one model (or finds it complete). Never throws for the model's own failure: that is
/// the outcome's status and message.
ModelOutcome run_model(const BatchSettings& b, const ManifestRow& m) {
    ModelOutcome outcome;
    const fs::path dir = model_dir(b, m), partial = partial_dir(b, m);
    std::error_code ec;
    if (fs::is_symlink(fs::symlink_status(dir, ec))) {
        outcome.message = dir.string() + " is a symbolic link, not a directory a batch made; remove it to repair this model";
        return outcome;
    }
    if (fs::exists(fs::symlink_status(dir, ec))) {
        const std::string why = incomplete_reason(b, m, outcome.seconds);
        outcome.status = why.empty() ? ModelStatus::skipped_complete : ModelStatus::failed;
        outcome.message = why;
        return outcome;
    }
    try {
        if (fs::exists(fs::symlink_status(partial, ec))) {
            fs::remove_all(partial, ec);  // an interrupted run's
            if (ec) throw io_error(partial.string() + ": cannot remove an interrupted run's directory: " + ec.message());
        }
        std::vector<std::string> args = m.args;
        args.insert(args.end(), {"--out", partial.string(), "--quiet"});
        args.insert(args.end(), b.threads.begin(), b.threads.end());
        RepairParser parser;
        parser.parse(args);
        const auto start = std::chrono::steady_clock::now();
        int code = 0;
        {
            StreamCapture out(std::cout), err(std::cerr);  // repair's report on stdout is in report.md
            try {
                code = parser.run();
            } catch (...) {
                outcome.notes = err.text.str();
                throw;
            }
            outcome.notes = err.text.str();
        }
        outcome.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (code != 0) throw io_error("repair exited with code " + std::to_string(code));
        // The record first, then the directory's final name: DIR/<name> appears complete.
        const nlohmann::json record{{"args", m.args}, {"seconds", outcome.seconds}};
        write_text_file(record_file(b, m).string(), record.dump(2) + "\n");
        if (::rename(partial.c_str(), dir.c_str()) != 0)
            throw io_error(dir.string() + ": cannot rename " + partial.string() + " to it: " + std::strerror(errno));
        sync_directory(b.out);
        outcome.status = ModelStatus::ok;
    } catch (const CLI::ParseError& e) {
        outcome.message = one_line(e.what());
    } catch (const std::exception& e) {
        outcome.message = one_line(e.what());
    }
    if (outcome.status == ModelStatus::failed) fs::remove_all(partial, ec);  // a failed repair leaves nothing
    return outcome;
}

// ---------------------------------------------------------------------------------------------
// The order of the work

/// Hands out the models: next() gives the index of the model this process runs next, nullopt
/// when none is left; finish() takes a model's outcome (this process's, or on rank 0 one another
/// rank sent). Without ranks one model at a time, in manifest order; with MPI ranks the model
/// no rank has taken yet (BatchRanks::take), so a rank that is free takes the next one.
class ModelQueue {
public:
    ModelQueue(std::size_t models, BatchRanks* ranks) : outcomes_(models), ranks_(ranks) {}
    std::optional<std::size_t> next() {
        if (ranks_) return ranks_->take();
        if (next_ >= outcomes_.size()) return std::nullopt;
        return next_++;
    }
    void finish(std::size_t model, ModelOutcome outcome) {
        if (model >= outcomes_.size() || outcomes_[model])
            throw prunedef::error("prunedef batch: model " + std::to_string(model) + " finished twice or unknown (" +
                        std::to_string(outcomes_.size()) + " models)");
        outcomes_[model] = std::move(outcome);
    }
    const std::vector<std::optional<ModelOutcome>>& outcomes() const { return outcomes_; }
    /// This process's outcomes, for rank 0.
    std::string to_bytes() const {
        nlohmann::json out = nlohmann::json::array();
        for (std::size_t i = 0; i < outcomes_.size(); ++i)
            if (outcomes_[i]) out.push_back(outcome_to_json(i, *outcomes_[i]));
        return prunedef_tool::to_bytes(out);
    }
    /// Takes the outcomes another rank sent (its to_bytes()).
    void finish_from_bytes(const std::string& bytes) {
        for (const auto& item : from_bytes(bytes)) {
            auto [model, outcome] = outcome_from_json(item);
            finish(model, std::move(outcome));
        }
    }

private:
    std::vector<std::optional<ModelOutcome>> outcomes_;
    BatchRanks* ranks_;
    std::size_t next_ = 0;
};

// ---------------------------------------------------------------------------------------------
// The summary

/// A number as its shortest round-trip decimal ("" for null).
std::string number(const nlohmann::json& v) {
    if (!v.is_number()) return "";
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, v.get<double>());
    return std::string(buf, r.ptr);
}

std::string fixed(const std::string& shortest, int digits) {
    if (shortest.empty()) return "-";
    std::ostringstream s;
    s.setf(std::ios::fixed);
    s.precision(digits);
    s << std::stod(shortest);
    return s.str();
}

/// 100 x part / images of a GoodNet count object ("" without images).
nlohmann::json percent_of(const nlohmann::json& counts, const char* part) {
    if (!counts.is_object() || !counts.value("images", 0)) return nullptr;
    return 100.0 * counts.value(part, 0.0) / counts.value("images", 0.0);
}

const std::vector<std::string> summary_columns{
    "name",        "status",        "seconds",          "x",           "relative",       "k",
    "clean_set",   "poisoned_set",  "b_clean",          "b_asr",       "bprime_clean",   "bprime_asr",
    "g_clean",     "g_asr",         "g_detection",      "g_clean_flagged", "message"};

/// One row per model, X and poisoned set (one per X without a poisoned set; one for a failed
/// model), from report.json: clean accuracy on the test set when there is one, else on the
/// validation set; percentages.
std::vector<std::vector<std::string>> summary_rows(const BatchSettings& b, const ManifestRow& m,
                                                   const ModelOutcome& o) {
    std::vector<std::vector<std::string>> rows;
    char secs[32];
    std::snprintf(secs, sizeof secs, "%.1f", o.seconds);
    const std::string status = status_text(o.status);
    const auto failed_row = [&](const std::string& message) {
        std::vector<std::string> row(summary_columns.size());
        row[0] = m.name;
        row[1] = "failed";
        row.back() = message;
        return row;
    };
    if (o.status == ModelStatus::failed) return {failed_row(o.message)};
    const auto report = read_json(model_dir(b, m) / "report.json");
    if (!report || !report->is_object())
        return {failed_row((model_dir(b, m) / "report.json").string() + ": cannot be read")};
    const auto& r = *report;
    try {
        const bool test = r.at("images").at("test").get<std::size_t>() > 0;
        const auto& baseline = r.at("baseline");
        const nlohmann::json b_clean = test ? baseline.at("test_accuracy") : baseline.at("valid_accuracy");
        const auto& sets = r.at("poisoned_sets");
        const auto& b_point = r.at("curve").at(0);
        for (const auto& t : r.at("thresholds")) {
            const nlohmann::json g_clean_counts = test ? t.at("goodnet_test") : t.at("goodnet_valid");
            for (std::size_t s = 0; s < std::max<std::size_t>(1, sets.size()); ++s) {
                std::vector<std::string> row{m.name, status, secs, number(t.at("x")), t.at("relative").get<bool>() ? "yes" : "no",
                                             t.at("reached").get<bool>() ? std::to_string(t.at("k").get<std::size_t>()) : "not reached",
                                             test ? "test" : "valid"};
                row.push_back(s < sets.size() ? sets[s].at("name").get<std::string>() : "");
                row.push_back(number(b_clean));
                row.push_back(s < sets.size() ? number(b_point.at("poisoned").at(s).at("attack_success")) : "");
                row.push_back(number(test ? t.at("repaired_test_accuracy") : t.at("repaired_valid_accuracy")));
                row.push_back(s < sets.size() ? number(t.at("poisoned_sets").at(s).at("repaired_attack_success")) : "");
                row.push_back(number(percent_of(g_clean_counts, "matched")));
                const nlohmann::json g = s < sets.size() ? t.at("poisoned_sets").at(s).at("goodnet") : nlohmann::json();
                row.push_back(s < sets.size() ? number(percent_of(g, "matched")) : "");
                row.push_back(s < sets.size() ? number(percent_of(g, "flagged")) : "");
                row.push_back(number(percent_of(g_clean_counts, "flagged")));
                row.push_back(o.message);
                rows.push_back(std::move(row));
            }
        }
    } catch (const nlohmann::json::exception& e) {
        return {failed_row((model_dir(b, m) / "report.json").string() + ": unexpected content: " + e.what())};
    }
    return rows;
}

std::string csv_field(const std::string& s) {
    if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
    std::string q = "\"";
    for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
}

std::string md_cell(const std::string& s) {
    std::string out;
    for (char c : s) out += c == '|' ? std::string("\\|") : c == '\n' || c == '\r' ? std::string(" ") : std::string(1, c);
    return out;
}

/// ranks: the number of MPI ranks that shared the models (stated in summary.md when above 1).
void write_summaries(const BatchSettings& b, const std::vector<ManifestRow>& rows,
                     const std::vector<std::optional<ModelOutcome>>& outcomes, std::size_t ranks) {
    std::string csv, md;
    for (std::size_t c = 0; c < summary_columns.size(); ++c) csv += (c ? "," : "") + summary_columns[c];
    csv += "\n";
    md = "# prunedef batch\n\n"
         "Per model and accuracy drop X: clean accuracy (on the test set when the row has one, else on the "
         "validation set) and attack success (ASR, per poisoned set) of B, B' and the GoodNet G, G's detection "
         "rate on the poisoned set and the share of clean inputs it flags, in percent. Each model's files are in "
         "its own directory (report.md there has everything).\n\n";
    if (ranks > 1)
        md += "Run on " + std::to_string(ranks) + " MPI ranks: each model was repaired whole by one rank, in one process.\n\n";
    md += "| model | status | s | X | k | clean on | poisoned set | B clean | B ASR | B' clean | B' ASR | G clean | G ASR "
         "| G detection | G flags clean |\n"
         "|---|---|--:|--:|--:|---|---|--:|--:|--:|--:|--:|--:|--:|--:|\n";
    std::string failures;
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const ModelOutcome o = outcomes[i] ? *outcomes[i] : ModelOutcome{ModelStatus::failed, "not run", 0, ""};
        for (const auto& row : summary_rows(b, rows[i], o)) {
            for (std::size_t c = 0; c < row.size(); ++c) csv += (c ? "," : "") + csv_field(row[c]);
            csv += "\n";
            if (row[1] == "failed") {
                failures += "- **" + md_cell(row[0]) + "**: " + md_cell(row.back()) + "\n";
                md += "| " + md_cell(row[0]) + " | failed | | | | | | | | | | | | | |\n";
                continue;
            }
            md += "| " + md_cell(row[0]) + " | " + row[1] + " | " + row[2] + " | " + row[3] + (row[4] == "yes" ? " rel" : "") +
                  " | " + row[5] + " | " + row[6] + " | " + md_cell(row[7].empty() ? "-" : row[7]);
            for (std::size_t c = 8; c <= 15; ++c) md += " | " + fixed(row[c], 2);
            md += " |\n";
        }
    }
    if (!failures.empty()) md += "\n## Failed\n\n" + failures;
    write_text_file((fs::path(b.out) / "summary.csv").string(), csv);
    write_text_file((fs::path(b.out) / "summary.md").string(), md);
}

// ---------------------------------------------------------------------------------------------

struct BatchOptionsCli {
    std::string manifest, out;
    bool quiet = false;
    ThreadsOption threads;
    CLI::Option *manifest_opt = nullptr, *out_opt = nullptr;
};

/// An exclusive lock on DIR/.prunedef-batch.lock for the run's lifetime (one batch per DIR).
class BatchLock {
public:
    explicit BatchLock(const std::string& dir) {
        const std::string path = (fs::path(dir) / ".prunedef-batch.lock").string();
        fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd_ < 0) throw io_error(path + ": cannot create lock file: " + std::strerror(errno));
        if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
            ::close(fd_);
            throw io_error(dir + ": another prunedef batch is running in this directory (" + path + " is locked)");
        }
    }
    ~BatchLock() { ::close(fd_); }
    BatchLock(const BatchLock&) = delete;
    BatchLock& operator=(const BatchLock&) = delete;

private:
    int fd_ = -1;
};

/// Rank 0's preparation (or the single process's): DIR checked and created.
void prepare_out_dir(const std::string& out) {
    std::error_code ec;
    const auto st = fs::symlink_status(out, ec);
    if (fs::is_symlink(st)) throw io_error(out + ": is a symbolic link; give the directory itself");
    if (fs::exists(st) && !fs::is_directory(st)) throw io_error(out + ": exists and is not a directory");
    fs::create_directories(out, ec);
    if (!fs::is_directory(out, ec)) throw io_error(out + ": cannot create the output directory");
}

/// The batch on this process; ranks: the MPI ranks sharing the models, or null (this process alone).
int run_batch_on(const BatchOptionsCli& o, BatchRanks* ranks) {
    const bool root = !ranks || ranks->rank() == 0;
    const std::size_t rank_count = ranks ? ranks->size() : 1;
    std::vector<ManifestRow> rows;
    std::optional<BatchLock> lock;
    if (root) rows = read_manifest(o.manifest);  // every mistake before any work
    BatchSettings settings;
    settings.out = o.out;
    if (o.threads.option->count() > 0) {
        o.threads.apply();
        settings.threads = {"--threads", std::to_string(o.threads.threads)};
    }
    if (root) {
        prepare_out_dir(o.out);
        lock.emplace(o.out);  // held by rank 0 until every rank's outcome is in the summary
    }
    if (ranks) {
        const std::string shared = ranks->broadcast(root ? rows_to_bytes(rows) : std::string());
        if (!root) rows = rows_from_bytes(shared);
        ranks->start(rows.size());
        if (root && !o.quiet)
            std::cerr << "prunedef batch: " << rows.size() << " models on " << rank_count
                      << " ranks, each model repaired by one rank\n";
    }
    // Under MPI each line names the rank; [i/N] is the model's place in the manifest.
    const std::string who = "prunedef batch: " + (ranks ? "rank " + std::to_string(ranks->rank()) + ": " : std::string());
    ModelQueue queue(rows.size(), ranks);
    while (const auto i = queue.next()) {
        const ManifestRow& m = rows[*i];
        ModelOutcome outcome = run_model(settings, m);
        std::ostringstream lines;
        std::istringstream notes(outcome.notes);
        for (std::string line; std::getline(notes, line);)
            lines << (ranks ? who : std::string()) << m.name << ": " << line << "\n";
        if (!o.quiet || outcome.status == ModelStatus::failed) {
            lines << who << "[" << *i + 1 << "/" << rows.size() << "] " << m.name << ": " << status_text(outcome.status);
            if (outcome.status == ModelStatus::ok) lines << " (" << std::size_t(outcome.seconds + 0.5) << " s)";
            if (!outcome.message.empty()) lines << ": " << outcome.message;
            lines << "\n";
        }
        std::cerr << lines.str() << std::flush;  // one write: the ranks' lines do not interleave
        queue.finish(*i, std::move(outcome));
    }
    if (ranks) {
        const std::vector<std::string> sent = ranks->gather(queue.to_bytes());
        for (std::size_t r = 1; r < sent.size(); ++r) queue.finish_from_bytes(sent[r]);
    }
    int code = 0;
    if (root) {
        write_summaries(settings, rows, queue.outcomes(), rank_count);
        std::size_t failed = 0;
        for (const auto& outcome : queue.outcomes()) failed += outcome && outcome->status != ModelStatus::failed ? 0 : 1;
        write_stdout("prunedef batch: " + std::to_string(rows.size() - failed) + " of " + std::to_string(rows.size()) +
                     " models complete" + (failed ? ", " + std::to_string(failed) + " failed" : std::string()) + "; " +
                     (fs::path(o.out) / "summary.md").string() + "\n");
        code = failed ? 1 : 0;
    }
    // Every rank ends here: rank 0's summary is written (its exit code for all), or its error is known.
    if (ranks) code = std::stoi(ranks->broadcast(std::to_string(code)));
    return code;
}

int run_batch(const BatchOptionsCli& o) {
    remove_temporaries_on_signals();
    require(o.manifest_opt);
    require(o.out_opt);
    if (o.out.empty()) throw usage_error("--out: empty path given");
    const std::unique_ptr<BatchRanks> ranks = mpi_batch_ranks();  // null without mpirun or with one rank
    if (!ranks) return run_batch_on(o, nullptr);
    try {
        return run_batch_on(o, ranks.get());
    } catch (const rank_failure&) {
        throw;
    } catch (const std::exception& e) {
        ranks->share_failure(e.what());  // every other rank ends with this message
        throw;
    }
}

}  // namespace

#if !PRUNEDEF_HAVE_MPI
std::unique_ptr<BatchRanks> mpi_batch_ranks() { return nullptr; }  // a build without MPI: one process
#endif

Runner add_batch(CLI::App& app) {
    auto o = std::make_shared<BatchOptionsCli>();
    CLI::App* sub = app.add_subcommand("batch", "repair every model of a manifest (CSV), resumable, with a summary");
    set_help(sub, "prunedef batch --manifest MODELS.csv --out DIR [--threads N] [--quiet]",
             "Repairs each model listed in MODELS.csv exactly as 'prunedef repair --out DIR/<name>' would, one\n"
             "after another, then writes DIR/summary.csv and DIR/summary.md (per model and X: clean accuracy and\n"
             "ASR of B, B' and G, G's detection, time, status ok / failed / skipped-complete).\n\n"
             "MODELS.csv: a header row, then one row per model. Columns (any order): name (the output directory:\n"
             "letters, digits, '_', '-', '.', '+'; unique), model, valid (required), scale, test, poisoned (several\n"
             "separated by ';', each [NAME=]FILE as repair's --poisoned), options (more repair options, e.g.\n"
             "\"--drops 2,4 --fine-tune 2\"; not --model, --scale, --valid, --test, --poisoned, --out, --replace,\n"
             "--quiet, --threads). Relative paths (also of --config and --clean-reference) are taken from the\n"
             "manifest's directory. The whole manifest is checked, repair options included, before any work.\n\n"
             "Resumable: a model whose DIR/<name> is complete (made by a batch with the same row) is skipped and\n"
             "its figures read back. A model that fails is reported and the others go on; the exit code is 1\n"
             "when any failed. An interrupted run leaves no DIR/<name>, only a hidden partial directory that the\n"
             "next run removes.\n\n"
             "Under MPI (mpirun -n R prunedef batch ..., or srun) each model is repaired whole by one rank, and\n"
             "a rank that finishes takes the next model no rank has taken; rank 0 checks the manifest, locks DIR\n"
             "and writes the summary. Give each rank its share of the cores (--threads).");
    o->manifest_opt = sub->add_option("--manifest", o->manifest, "the models, a CSV file; required")->type_name("MODELS.csv");
    o->out_opt = sub->add_option("--out", o->out, "output directory (created if missing); required")->type_name("DIR");
    sub->add_flag("--quiet", o->quiet, "no line per model on stderr (failures and the repairs' warnings stay)");
    o->threads.add(*sub);
    return [o] { return run_batch(*o); };
}

}  // namespace prunedef_tool
