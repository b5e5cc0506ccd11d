#pragma once
// What the subcommands of the prunedef tool share: how a subcommand is declared (options on a
// CLI11 sub-app, a runner called after parsing), usage errors, the common options (--threads,
// --batch), loading a model for a data set, and eval.py's number format.

#include <prunedef/prunedef.hpp>
#include <prunedef/report/python_float.hpp>

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
/// single_process: the runner never uses MPI, even under mpirun (batch repairs each model in
/// one process).
Runner add_repair(CLI::App& app, bool single_process = false);
Runner add_classify(CLI::App& app);
Runner add_make_badnet(CLI::App& app);
Runner add_export(CLI::App& app);
Runner add_batch(CLI::App& app);

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

/// Refuses to write over one of the inputs.
void check_not_input(const std::string& out, const std::vector<std::string>& inputs);

/// Checks an output file before any work: not an input, and absent or a regular file (not a
/// directory, device, FIFO, socket or symbolic link).
void check_output_file(const std::string& out, const std::vector<std::string>& inputs);

/// On SIGTERM, SIGINT and SIGHUP: unlinks the temporary files of unfinished outputs and exits
/// with 128 + the signal number. A signal ignored when the tool started stays ignored.
void remove_temporaries_on_signals();

/// An output directory used by one run at a time: prepare() creates it, takes an exclusive
/// lock (DIR/.prunedef.lock, flock) for the object's lifetime, removes the temporary files of
/// killed runs (".name.tmpPID_N" whose PID is not alive; it says so on stderr), and refuses a
/// non-empty directory unless replace is true: then the files a repair writes (by name: the
/// four reports and *_X*.h5) are removed, report.json first; other files are left alone, and
/// an earlier run's file that is one of the inputs is refused.
/// check_only: only the refusals, without creating, locking or removing anything (for a check
/// before the work).
class OutputDirectory {
public:
    OutputDirectory() = default;
    OutputDirectory(const OutputDirectory&) = delete;
    OutputDirectory& operator=(const OutputDirectory&) = delete;
    ~OutputDirectory();
    void prepare(const std::string& dir, const std::vector<std::string>& inputs, bool replace, bool check_only = false);

private:
    int lock_fd_ = -1;
};

}  // namespace prunedef_tool
