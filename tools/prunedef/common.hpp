#pragma once
// What the subcommands of the prunedef tool share: how a subcommand is declared (options on a
// CLI11 sub-app, a runner called after parsing), usage errors, the common options (--threads,
// --batch), loading a model for a data set, and eval.py's number format.

#include <prunedef/prunedef.hpp>

#include <CLI/CLI.hpp>

#include <cstddef>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace prunedef_tool {

/// A usage mistake found after parsing: printed with the command's help hint, exit code 2.
struct usage_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// Runs a parsed subcommand; returns the exit code.
using Runner = std::function<int()>;

/// Each subcommand adds itself to the tool's app and returns its runner (one file each).
Runner add_eval(CLI::App& app);
Runner add_predict(CLI::App& app);
Runner add_repair(CLI::App& app);
Runner add_classify(CLI::App& app);
Runner add_make_badnet(CLI::App& app);

/// What an app's help shows above its options (see main.cpp's formatter): "usage: <synopsis>",
/// then the details. The app's own description stays one line, for the list of commands.
struct HelpText {
    std::string synopsis, details;
};
std::map<const CLI::App*, HelpText>& help_texts();
inline void set_help(const CLI::App* app, std::string synopsis, std::string details = "") {
    help_texts()[app] = {std::move(synopsis), std::move(details)};
}

/// Throws "missing required option --name" unless the option was given. Required options are
/// checked after parsing (not with CLI11's required()) so that an unknown option is reported
/// first, as the one mistake that explains the others.
void require(const CLI::Option* option);

/// --threads N (at least 1; default: all). Call apply() after parsing.
struct ThreadsOption {
    int threads = 0;
    CLI::Option* option = nullptr;
    void add(CLI::App& sub);
    void apply() const;
};

/// --batch N, in 1..65536.
CLI::Option* add_batch_option(CLI::App& sub, std::size_t& batch, const std::string& what);

/// The batch size to use for data: --batch capped at the number of images, refused (naming
/// --batch) when a batch of its images would need more memory than batch_memory_limit().
std::size_t checked_batch(std::size_t batch, const prunedef::DatasetReader& data);
/// Estimated bytes a batch may take (its images as float32 times an activation factor): a
/// quarter of the physical memory, at most 4 GiB.
double batch_memory_limit();

/// Writes text to standard output, flushes it and throws io_error when either fails (a full
/// disk, a closed stdout): a command prints its results only once all of them are computed.
void write_stdout(const std::string& text);

/// Python's repr of a float, as eval.py prints it (shortest round-trip digits).
std::string python_float(double v);

/// Loads a DeepID from model_path, applies scale when given (else the stored scale) and binds it
/// to the data's image shape; errors name the data file and the model.
prunedef::DeepID load_model(const std::string& model_path, const CLI::Option* scale_option, double scale,
                            const prunedef::DatasetReader& data);

/// Refuses to write over one of the inputs.
void check_not_input(const std::string& out, const std::vector<std::string>& inputs);

}  // namespace prunedef_tool
