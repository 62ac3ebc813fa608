#include "kernel/pins.h"

#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <system_error>

namespace l3af::kernel {

namespace fs = std::filesystem;

std::string PinLayout::linkFileName(const plan::Attachment& at) {
    return at.interface + "@" + plan::toString(at.hook);
}

std::optional<plan::Attachment> PinLayout::parseLinkFileName(const std::string& file) {
    const auto at = file.rfind('@');
    if (at == std::string::npos || at == 0)
        return std::nullopt;
    const std::string hook = file.substr(at + 1);
    for (plan::Hook h : {plan::Hook::TcIngress, plan::Hook::TcEgress, plan::Hook::Xdp}) {
        if (hook == plan::toString(h))
            return plan::Attachment{file.substr(0, at), h};
    }
    return std::nullopt;
}

bool onBpfFilesystem(const fs::path& path) {
    fs::path p = path;
    std::error_code ec;
    while (!p.empty() && !fs::exists(p, ec))
        p = p.parent_path();
    struct statfs st {};
    if (p.empty() || statfs(p.c_str(), &st) != 0)
        return false;
    return st.f_type == BPF_FS_MAGIC;
}

Status makePinDirectory(const fs::path& dir) {
    if (!onBpfFilesystem(dir))
        return fail(ENOTSUP, dir.string() + " is not on a bpf filesystem (mount -t bpf bpf " +
                                 "/sys/fs/bpf, or set [daemon] pin_root)");
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec)
        return fail(ec.value(), "create " + dir.string());
    return {};
}

Status removePinTree(const fs::path& dir) {
    std::error_code ec;
    if (!fs::exists(dir, ec))
        return {};
    // Files first (pinned objects), then directories deepest first.
    std::vector<fs::path> dirs;
    for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
         it.increment(ec)) {
        if (it->is_directory(ec))
            dirs.push_back(it->path());
        else if (::unlink(it->path().c_str()) != 0 && errno != ENOENT)
            return failErrno("unpin " + it->path().string());
    }
    if (ec)
        return fail(ec.value(), "walk " + dir.string());
    std::sort(dirs.begin(), dirs.end(), [](const fs::path& a, const fs::path& b) {
        return a.native().size() > b.native().size();
    });
    dirs.push_back(dir);
    for (const fs::path& d : dirs) {
        if (::rmdir(d.c_str()) != 0 && errno != ENOENT)
            return failErrno("remove " + d.string());
    }
    return {};
}

std::vector<std::string> listDirectory(const fs::path& dir) {
    std::vector<std::string> names;
    std::error_code ec;
    for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::end(it); it.increment(ec))
        names.push_back(it->path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

} // namespace l3af::kernel
