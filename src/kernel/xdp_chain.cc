#include "kernel/xdp_chain.h"

#include "kernel/admin_capability.h"

#include "common/unique_fd.h"
#include "kernel/bpf_object.h"
#include "kernel/libbpf_log.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xdp/libxdp.h>
#include <xdp/prog_dispatcher.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace l3af::kernel {

namespace fs = std::filesystem;

namespace {

// libxdp prints to stderr by default, like libbpf; its words belong in the
// error of the call that made them. Captures nest: each restores the one it
// interrupted.
std::string* xdp_log_active = nullptr;

int printToXdpCapture(enum libxdp_print_level level, const char* format, va_list args) {
    if (!xdp_log_active || level == LIBXDP_DEBUG)
        return 0;
    char buf[1024];
    const int n = std::vsnprintf(buf, sizeof buf, format, args);
    if (n > 0)
        xdp_log_active->append(buf, std::min<size_t>(static_cast<size_t>(n), sizeof buf - 1));
    return n;
}

// "\n  <line>" for each of the last `max_lines` lines of `text`.
std::string indentedTail(std::string_view text, size_t max_lines) {
    std::vector<std::string_view> lines;
    size_t start = 0;
    while (start < text.size()) {
        size_t end = text.find('\n', start);
        if (end == std::string_view::npos)
            end = text.size();
        if (end > start)
            lines.push_back(text.substr(start, end - start));
        start = end + 1;
    }
    std::string out;
    for (size_t i = lines.size() > max_lines ? lines.size() - max_lines : 0; i < lines.size(); i++)
        out.append("\n  ").append(lines[i]);
    return out;
}

class LibxdpLogCapture {
  public:
    LibxdpLogCapture() : outer_(std::exchange(xdp_log_active, &text_)) {
        libxdp_set_print(printToXdpCapture);
    }
    ~LibxdpLogCapture() { xdp_log_active = outer_; }
    LibxdpLogCapture(const LibxdpLogCapture&) = delete;
    LibxdpLogCapture& operator=(const LibxdpLogCapture&) = delete;

    const std::string& text() const { return text_; }

  private:
    std::string text_;
    std::string* outer_;
};

// What libxdp, libbpf and the verifier said during one call: libxdp first
// (it says what it was doing), then libbpf, then the end of the verifier's
// log. The verifier writes into a buffer of ours, because libbpf would hand
// its whole log to a single print call, longer than a captured line.
class LogCapture {
  public:
    void captureVerifier(bpf_program* prog) {
        verifier_.assign(kVerifierLogSize, '\0');
        bpf_program__set_log_buf(prog, verifier_.data(), verifier_.size());
    }

    // ":\n  <line>..." or "" when nobody said anything.
    std::string summary() const {
        std::string out = indentedTail(xdp_.text(), 30) + indentedTail(libbpfWords(), 30);
        if (!verifier_.empty() && verifier_[0] != '\0')
            out += indentedTail(verifier_.data(), 30);
        return out.empty() ? out : ":" + out;
    }

  private:
    // libbpf's lines without the notes it makes each time libxdp opens its
    // dispatcher object, whose metadata section libbpf does not know.
    std::string libbpfWords() const {
        std::string out;
        std::string_view text = bpf_.text();
        while (!text.empty()) {
            const size_t end = std::min(text.find('\n'), text.size());
            const std::string_view line = text.substr(0, end);
            if (line.find("skipping unrecognized data section") == std::string_view::npos)
                out.append(line).append("\n");
            text.remove_prefix(std::min(end + 1, text.size()));
        }
        return out;
    }

    // The kernel keeps the end of a log that overflows (6.4+), which is
    // where the verifier says what it refused.
    static constexpr size_t kVerifierLogSize = 256 * 1024;

    LibxdpLogCapture xdp_;
    LibbpfLogCapture bpf_;
    std::vector<char> verifier_;
};

struct MultiprogDeleter {
    void operator()(xdp_multiprog* mp) const { xdp_multiprog__close(mp); }
};
using Multiprog = std::unique_ptr<xdp_multiprog, MultiprogDeleter>;

struct ProgramDeleter {
    void operator()(xdp_program* prog) const { xdp_program__close(prog); }
};
using Program = std::unique_ptr<xdp_program, ProgramDeleter>;

// The error with what the libraries said while it happened.
std::unexpected<Error> withLog(const Error& error, const LogCapture& log) {
    return std::unexpected<Error>(Error(error.code(), error.context() + log.summary()));
}

std::string onInterface(unsigned ifindex) {
    return "ifindex " + std::to_string(ifindex);
}

// The interface's XDP state as libxdp reads it; null when nothing is
// attached. libxdp's pointer APIs return either NULL or an encoded error.
Result<Multiprog> readMultiprog(unsigned ifindex) {
    xdp_multiprog* mp = xdp_multiprog__get_from_ifindex(static_cast<int>(ifindex));
    if (const long err = libxdp_get_error(mp); err != 0 || !mp) {
        if (err == -ENOENT || err == 0)
            return Multiprog();
        // libxdp opens the attached programs by id (BPF_PROG_GET_FD_BY_ID).
        return fail(static_cast<int>(-err), "read XDP programs of " + onInterface(ifindex) +
                                                (err == -EPERM ? " (needs CAP_SYS_ADMIN)" : ""));
    }
    return Multiprog(mp);
}

XdpComponent componentOf(const xdp_program* prog, uint32_t run_prio) {
    const char* name = xdp_program__name(prog);
    return {xdp_program__id(prog), run_prio, name ? name : ""};
}

std::vector<XdpComponent> componentsOf(const xdp_multiprog* mp) {
    std::vector<XdpComponent> out;
    if (!mp)
        return out;
    if (xdp_multiprog__is_legacy(mp)) {
        if (const xdp_program* main = xdp_multiprog__main_prog(mp))
            out.push_back(componentOf(main, 0));
        return out;
    }
    for (xdp_program* p = xdp_multiprog__next_prog(nullptr, mp); p;
         p = xdp_multiprog__next_prog(p, mp))
        out.push_back(componentOf(p, xdp_program__run_prio(p)));
    return out;
}

// freplace programs are what the dispatcher calls; without them libxdp
// would quietly attach a lone program instead, which would lock every other
// XDP user out of the interface.
bool kernelLoadsFreplace() {
    static const bool supported = libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_EXT, nullptr) == 1;
    return supported;
}

Status makeDirectories(const fs::path& dir) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec)
        return fail(ec.value(), "create " + dir.string());
    return {};
}

Status detachComponent(unsigned ifindex, uint32_t prog_id) {
    auto mp = readMultiprog(ifindex);
    if (!mp)
        return std::unexpected(mp.error());
    if (!*mp || xdp_multiprog__is_legacy(mp->get()))
        return {};
    for (xdp_program* p = xdp_multiprog__next_prog(nullptr, mp->get()); p;
         p = xdp_multiprog__next_prog(p, mp->get())) {
        if (xdp_program__id(p) != prog_id)
            continue;
        // The dispatcher's own mode: libxdp replaces it in that slot.
        const int err = xdp_program__detach(p, static_cast<int>(ifindex),
                                            xdp_multiprog__attach_mode(mp->get()), 0);
        if (err != 0)
            return fail(-err, "remove XDP program " + std::to_string(prog_id) + " from " +
                                  onInterface(ifindex));
        return {};
    }
    return {};
}

// libxdp falls back to attaching a lone program when it cannot build a
// dispatcher, which would lock every other XDP user out of the interface.
// Netlink tells which program the interface runs without the privilege
// libxdp needs to read it; takes ours off again. True when it was there.
bool removedLoneProgram(unsigned ifindex, uint32_t prog_id, int prog_fd) {
    LIBBPF_OPTS(bpf_xdp_query_opts, query);
    if (bpf_xdp_query(static_cast<int>(ifindex), 0, &query) != 0)
        return false;
    uint32_t flags = XDP_FLAGS_REPLACE;
    if (query.drv_prog_id == prog_id)
        flags |= XDP_FLAGS_DRV_MODE;
    else if (query.skb_prog_id == prog_id)
        flags |= XDP_FLAGS_SKB_MODE;
    else
        return false;
    LIBBPF_OPTS(bpf_xdp_attach_opts, opts);
    opts.old_prog_fd = prog_fd;
    (void)bpf_xdp_attach(static_cast<int>(ifindex), -1, flags, &opts);
    return true;
}

// libxdp pins its dispatchers in <bpffs>/xdp and falls back to a lone
// program when it cannot: find out first.
Status checkLibxdpPinDirectory() {
    const char* bpffs = std::getenv("LIBXDP_BPFFS");
    const fs::path dir = fs::path(bpffs && *bpffs ? bpffs : "/sys/fs/bpf") / "xdp";
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
        return failErrno("create libxdp's pin directory " + dir.string());
    if (::access(dir.c_str(), W_OK) != 0)
        return failErrno("libxdp's pin directory " + dir.string());
    return {};
}

} // namespace

Result<std::vector<XdpComponent>> listXdp(unsigned ifindex) {
    const RaisedAdminCapability admin;
    LogCapture log;
    auto mp = readMultiprog(ifindex);
    if (!mp)
        return withLog(mp.error(), log);
    return componentsOf(mp->get());
}

Result<uint32_t> attachXdp(unsigned ifindex, const fs::path& object, const std::string& function,
                           uint32_t priority, const fs::path& map_dir, const fs::path& prog_pin) {
    const RaisedAdminCapability admin;
    LogCapture log;
    const std::string what =
        "attach XDP " + function + " from " + object.string() + " to " + onInterface(ifindex);

    std::error_code ec;
    if (fs::exists(fs::symlink_status(prog_pin, ec)))
        return fail(EEXIST, what + ": " + prog_pin.string() + " exists");

    // A dispatcher is joined in its own mode; a new one goes where the
    // kernel puts programs by default (native when the driver has it).
    auto existing = readMultiprog(ifindex);
    if (!existing)
        return withLog(existing.error().wrap(what), log);
    xdp_attach_mode mode = XDP_MODE_UNSPEC;
    if (*existing) {
        if (xdp_multiprog__is_legacy(existing->get())) {
            const auto lone = componentsOf(existing->get());
            return fail(EBUSY, what + ": " +
                                   (lone.empty() ? "a program"
                                                 : "program " + std::to_string(lone[0].prog_id)) +
                                   " holds the interface without libxdp's dispatcher");
        }
        if (xdp_multiprog__program_count(existing->get()) >= MAX_DISPATCHER_ACTIONS)
            return fail(E2BIG, what + ": the dispatcher already runs " +
                                   std::to_string(MAX_DISPATCHER_ACTIONS) + " programs");
        mode = xdp_multiprog__attach_mode(existing->get());
    }
    existing->reset();
    if (!kernelLoadsFreplace())
        return fail(EOPNOTSUPP, what + ": the kernel refuses freplace (BPF_PROG_TYPE_EXT) " +
                                    "programs, which libxdp's dispatcher runs");
    if (Status writable = checkLibxdpPinDirectory(); !writable)
        return std::unexpected(writable.error().wrap(what));

    BpfObjectPtr obj(bpf_object__open_file(object.c_str(), nullptr));
    if (!obj)
        return failErrno(what + ": open" + log.summary());
    // Only the function goes into the kernel, not its neighbours.
    bpf_program* wanted = loadOnly(obj.get(), function);
    if (!wanted)
        return fail(ENOENT, what + ": the object has no function " + function);
    log.captureVerifier(wanted);
    auto to_pin = reusePinnedMaps(obj.get(), map_dir);
    if (!to_pin)
        return withLog(to_pin.error().wrap(what), log);

    xdp_program_opts opts{};
    opts.sz = sizeof opts;
    opts.obj = obj.get();
    opts.prog_name = function.c_str();
    Program prog(xdp_program__create(&opts));
    if (const long err = libxdp_get_error(prog.get()); err != 0 || !prog) {
        (void)prog.release(); // an encoded error, not an object
        return fail(err != 0 ? static_cast<int>(-err) : EINVAL, what + log.summary());
    }
    if (int err = xdp_program__set_run_prio(prog.get(), priority); err != 0)
        return fail(-err, what + ": set run priority");

    // libxdp loads the function as an freplace program against a new
    // dispatcher that holds every current component plus this one, then
    // swaps the dispatchers on the interface in one step.
    if (int err = xdp_program__attach(prog.get(), static_cast<int>(ifindex), mode, 0); err != 0)
        return fail(-err, what + log.summary());
    const uint32_t id = xdp_program__id(prog.get());

    if (removedLoneProgram(ifindex, id, xdp_program__fd(prog.get())))
        return fail(EOPNOTSUPP, what + ": libxdp could not build a dispatcher" + log.summary());

    // From here on a failure takes the component out again, with the pins
    // made for it.
    std::vector<fs::path> pinned;
    auto undo = [&](Error error) -> Result<uint32_t> {
        (void)detachComponent(ifindex, id);
        for (const fs::path& pin : pinned)
            ::unlink(pin.c_str());
        return std::unexpected(std::move(error));
    };
    if (Status made = makeDirectories(map_dir); !made)
        return undo(made.error().wrap(what));
    if (Status made = pinNewMaps(*to_pin, &pinned); !made)
        return undo(made.error().wrap(what));
    if (Status made = makeDirectories(prog_pin.parent_path()); !made)
        return undo(made.error().wrap(what));
    if (bpf_obj_pin(xdp_program__fd(prog.get()), prog_pin.c_str()) != 0)
        return undo(Error::fromErrno(what + ": pin " + prog_pin.string()));
    return id;
}

Status detachXdp(unsigned ifindex, uint32_t prog_id) {
    const RaisedAdminCapability admin;
    LogCapture log;
    if (Status done = detachComponent(ifindex, prog_id); !done)
        return withLog(done.error(), log);
    return {};
}

} // namespace l3af::kernel
