// The shared parts of the prunedef tool (common.hpp).

#include "common.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <regex>
#include <thread>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace fs = std::filesystem;
using namespace prunedef;

namespace prunedef_tool {

std::map<const CLI::App*, HelpText>& help_texts() {
    static std::map<const CLI::App*, HelpText> texts;
    return texts;
}

void require(const CLI::Option* option) {
    if (option->count() == 0) throw usage_error("missing required option " + option->get_name());
}

void ThreadsOption::add(CLI::App& sub) {
    option = sub.add_option("--threads", threads, "threads (default: OMP_NUM_THREADS, else every CPU this process may use)")
                 ->check(CLI::Range(1, 65536))
                 ->type_name("N");
}

void ThreadsOption::apply() const {
    if (option->count() == 0) return;
    // More threads than this only costs memory (a stack each) and time: refused before the pool
    // tries to create them.
    const unsigned hardware = std::max(1u, std::thread::hardware_concurrency());
    if (threads > int(4 * hardware))
        throw usage_error("--threads " + std::to_string(threads) + ": more than 4 x the " + std::to_string(hardware) +
                          " hardware threads of this machine");
    set_thread_count(threads);
}

double batch_memory_limit() {
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
    const double four_gib = 4.0 * double(1u << 30);
    if (pages <= 0 || page <= 0) return four_gib;
    return std::min(four_gib, double(pages) * double(page) / 4);
}

std::size_t checked_batch(std::size_t batch, const DatasetReader& data) {
    // A batch holds its images as float32 and the activations of the layers: a few times the
    // input (DeepID's conv_1 output and patches are about 20 times it); 32 is the estimate.
    constexpr double activation_factor = 32;
    const std::size_t n = std::max<std::size_t>(1, std::min(batch, data.size()));
    const double bytes = double(n) * double(data.image_shape().size()) * sizeof(float) * activation_factor;
    const double limit = batch_memory_limit();
    if (bytes > limit)
        throw usage_error("--batch " + std::to_string(batch) + ": a batch of " + std::to_string(n) + " images of " +
                          data.image_shape().str() + " from " + data.file() + " needs about " +
                          std::to_string(static_cast<long long>(bytes / double(1u << 20))) + " MiB, more than the " +
                          std::to_string(static_cast<long long>(limit / double(1u << 20))) +
                          " MiB allowed here; give a smaller --batch");
    return n;
}

void write_stdout(const std::string& text) {
    errno = 0;
    std::cout << text;
    std::cout.flush();
    if (!std::cout) {
        const int e = errno;
        throw io_error(std::string("standard output: write failed") + (e ? std::string(" (") + std::strerror(e) + ")" : ""));
    }
}

CLI::Option* add_batch_option(CLI::App& sub, std::size_t& batch, const std::string& what) {
    return sub.add_option("--batch", batch, what)->check(CLI::Range(1, 65536))->type_name("N");
}


void check_not_input(const std::string& out, const std::vector<std::string>& inputs) {
    if (out.empty()) throw usage_error("--out: empty path given");
    std::error_code ec;
    const fs::path o = fs::weakly_canonical(out, ec);
    for (const auto& in : inputs)
        if (!in.empty() && fs::weakly_canonical(in, ec) == o)
            throw argument_error(out + ": output path is also an input; refusing to overwrite it");
}

void check_output_file(const std::string& out, const std::vector<std::string>& inputs) {
    check_not_input(out, inputs);  // refuses an empty path too
    detail::check_output_path(out);
}

namespace {

void remove_temporaries_and_exit(int sig) {
    remove_pending_temporaries();
    ::_exit(128 + sig);
}

// The file names a repair writes into its directory.
bool is_repair_output(const std::string& name) {
    static const std::regex pattern(
        R"((sweep\.csv|report\.md|report\.json|curve\.svg|roc\.svg|(repaired|goodnet|finepruned|goodnet_finepruned)_X.*\.(h5|keras|onnx)|(repaired|goodnet)_k[0-9]+\.(h5|keras|onnx)))");
    return std::regex_match(name, pattern);
}

}  // namespace

void remove_temporaries_on_signals() {
    struct sigaction sa {};
    sa.sa_handler = remove_temporaries_and_exit;
    sigemptyset(&sa.sa_mask);
    for (int sig : {SIGTERM, SIGINT, SIGHUP}) {
        struct sigaction old {};
        // A signal ignored by whoever started us (nohup, a background job) stays ignored.
        if (::sigaction(sig, nullptr, &old) == 0 && old.sa_handler == SIG_IGN) continue;
        ::sigaction(sig, &sa, nullptr);
    }
}

OutputDirectory::~OutputDirectory() {
    if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock; the lock file stays (removing it would race)
}

void OutputDirectory::prepare(const std::string& dir, const std::vector<std::string>& inputs, bool replace,
                              bool check_only) {
    if (dir.empty()) throw argument_error("--out: the output directory name is empty");
    std::error_code ec;
    const auto st = fs::symlink_status(dir, ec);
    if (fs::is_symlink(st)) throw io_error(dir + ": is a symbolic link; give the directory itself");
    if (fs::exists(st) && !fs::is_directory(st)) throw io_error(dir + ": exists and is not a directory");
    if (check_only && !fs::exists(st)) return;
    if (!check_only) {
        fs::create_directories(dir, ec);
        if (!fs::is_directory(dir, ec))
            throw io_error(dir + ": cannot create output directory" + (ec ? ": " + ec.message() : ""));
        const std::string lock_path = (fs::path(dir) / ".prunedef.lock").string();
        lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (lock_fd_ < 0) throw io_error(lock_path + ": cannot create lock file: " + std::strerror(errno));
        if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0)
            throw io_error(dir + ": another prunedef run is writing into this directory (" + lock_path + " is locked)");
    }
    static const std::regex temporary(R"(\..+\.tmp([0-9]+)_[0-9]+)");
    std::vector<fs::path> previous;
    std::string example;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
        const std::string name = entry.path().filename().string();
        std::smatch m;
        if (name == ".prunedef.lock") continue;
        if (std::regex_match(name, m, temporary)) {
            if (check_only) continue;
            const long pid = std::strtol(m[1].str().c_str(), nullptr, 10);
            if (pid > 0 && pid != ::getpid() && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) {
                std::error_code rec;
                fs::remove(entry.path(), rec);
                std::cerr << "prunedef: removed " << entry.path().string()
                          << ", a temporary file left by an interrupted run (process " << pid << ")\n";
            } else {
                std::cerr << "prunedef: note: " << entry.path().string() << " is a temporary file of process " << pid
                          << ", which is still running; left alone\n";
            }
            continue;
        }
        if (example.empty()) example = name;
        if (is_repair_output(name)) {
            std::error_code eq;
            for (const auto& in : inputs)
                if (!in.empty() && fs::equivalent(in, entry.path(), eq))
                    throw io_error(entry.path().string() + ": is an input of this run and a file of an earlier run in " +
                                   dir + "; refusing to remove it (choose a new directory)");
            previous.push_back(entry.path());
        }
    }
    if (ec) throw io_error(dir + ": cannot list the output directory: " + ec.message());
    if (!example.empty() && !replace)
        throw io_error(dir + ": output directory is not empty (it holds " + example +
                       "); give --replace to remove the files of an earlier repair, or choose a new directory");
    if (check_only) return;
    // report.json goes first: a directory without one holds no complete run.
    std::sort(previous.begin(), previous.end(), [](const fs::path& a, const fs::path& b) {
        return (a.filename() == "report.json") > (b.filename() == "report.json");
    });
    for (const auto& p : previous) {
        std::error_code rec;
        if (!fs::remove(p, rec) && rec)
            throw io_error(p.string() + ": cannot remove the earlier run's file: " + rec.message());
    }
}

}  // namespace prunedef_tool
