#include "kernel/bpf_kernel.h"

#include "common/unique_fd.h"
#include "kernel/function_types.h"
#include "kernel/mirror_function.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <net/if.h>
#include <unistd.h>

#include <map>

namespace l3af::kernel {

namespace fs = std::filesystem;

const std::vector<std::string>& knownKinds() {
    static const std::vector<std::string> kinds = [] {
        std::vector<std::string> names;
        for (const FunctionType& type : functionTypes())
            names.push_back(type.kind);
        return names;
    }();
    return kinds;
}

namespace {

const char* programFor(const std::string& kind, plan::Hook hook) {
    const FunctionType* type = functionType(kind);
    return type ? type->programFor(hook) : nullptr;
}

Result<bpf_attach_type> tcxAttachType(plan::Hook hook) {
    switch (hook) {
    case plan::Hook::TcIngress:
        return BPF_TCX_INGRESS;
    case plan::Hook::TcEgress:
        return BPF_TCX_EGRESS;
    case plan::Hook::Xdp:
        break;
    }
    return fail(ENOTSUP, std::string("hook ") + plan::toString(hook) + " is not supported yet");
}

Result<uint32_t> programId(int fd) {
    bpf_prog_info info{};
    uint32_t len = sizeof info;
    if (bpf_prog_get_info_by_fd(fd, &info, &len) != 0)
        return failErrno("read program info");
    return info.id;
}

std::set<std::string> presentInterfaces() {
    std::set<std::string> names;
    if (struct if_nameindex* list = if_nameindex()) {
        for (struct if_nameindex* i = list; i->if_index != 0; i++)
            names.insert(i->if_name);
        if_freenameindex(list);
    }
    return names;
}

} // namespace

Result<int> BpfKernel::openRevisionProgram(const std::string& kind, const std::string& name,
                                           const std::string& revision, plan::Hook hook) const {
    const char* program = programFor(kind, hook);
    if (!program)
        return fail(ENOTSUP, kind + " cannot run on " + plan::toString(hook));
    const fs::path path = pins_.revision(kind, name, revision) / program;
    const int fd = bpf_obj_get(path.c_str());
    if (fd < 0)
        return failErrno("open " + path.string());
    return fd;
}

Result<plan::Observed> BpfKernel::observe() {
    plan::Observed observed;
    observed.interfaces = presentInterfaces();
    for (const std::string& kind : knownKinds()) {
        for (const std::string& name : listDirectory(pins_.root() / kind)) {
            plan::ObservedFunction function{kind, name, {}, {}};
            // Program id -> revision, to tell which revision each link runs.
            std::map<uint32_t, std::string> revisionOfProgram;
            for (const std::string& entry : listDirectory(pins_.function(kind, name))) {
                if (entry == "links")
                    continue;
                function.revisions.push_back(entry);
                for (plan::Hook hook : {plan::Hook::TcIngress, plan::Hook::TcEgress}) {
                    auto fd = openRevisionProgram(kind, name, entry, hook);
                    if (!fd)
                        continue;
                    UniqueFd prog(*fd);
                    if (auto id = programId(prog.get()))
                        revisionOfProgram[*id] = entry;
                }
            }
            for (const std::string& file : listDirectory(pins_.links(kind, name))) {
                auto at = PinLayout::parseLinkFileName(file);
                if (!at)
                    continue;
                plan::ObservedAttachment link{*at, 0, false, ""};
                const fs::path path = pins_.links(kind, name) / file;
                UniqueFd fd(bpf_obj_get(path.c_str()));
                bpf_link_info info{};
                uint32_t len = sizeof info;
                if (fd && bpf_link_get_info_by_fd(fd.get(), &info, &len) == 0) {
                    link.link_id = info.id;
                    const uint32_t ifindex = info.type == BPF_LINK_TYPE_TCX ? info.tcx.ifindex : 0;
                    link.live = ifindex != 0 && if_nametoindex(at->interface.c_str()) == ifindex;
                    if (auto it = revisionOfProgram.find(info.prog_id);
                        it != revisionOfProgram.end())
                        link.revision = it->second;
                }
                function.attachments.push_back(std::move(link));
            }
            observed.functions.push_back(std::move(function));
        }
    }
    return observed;
}

Status BpfKernel::load(const plan::DesiredFunction& function) {
    const fs::path dir = pins_.revision(function.kind, function.name, function.revision);
    // A leftover of a load that died half way is not a revision: start over.
    if (Status cleared = removePinTree(dir); !cleared)
        return cleared;
    const FunctionType* type = functionType(function.kind);
    if (!type)
        return fail(ENOTSUP, "unknown function kind " + function.kind);
    return type->load(function, dir);
}

Status BpfKernel::attach(const plan::DesiredFunction& function, const plan::Attachment& at) {
    auto type = tcxAttachType(at.hook);
    if (!type)
        return std::unexpected(type.error());
    const unsigned ifindex = if_nametoindex(at.interface.c_str());
    if (ifindex == 0)
        return failErrno("interface " + at.interface);
    auto prog = openRevisionProgram(function.kind, function.name, function.revision, at.hook);
    if (!prog)
        return std::unexpected(prog.error());
    UniqueFd progFd(*prog);

    const fs::path path = pins_.link(function.kind, function.name, at);
    if (Status made = makePinDirectory(path.parent_path()); !made)
        return made;
    LIBBPF_OPTS(bpf_link_create_opts, opts);
    UniqueFd link(bpf_link_create(progFd.get(), static_cast<int>(ifindex), *type, &opts));
    if (!link)
        return failErrno("TCX attach to " + at.interface);
    if (bpf_obj_pin(link.get(), path.c_str()) != 0) {
        Error error = Error::fromErrno("pin " + path.string());
        bpf_link_detach(link.get());
        return std::unexpected(error);
    }
    return {};
}

Status BpfKernel::update(const plan::DesiredFunction& function, const plan::Attachment& at) {
    const fs::path path = pins_.link(function.kind, function.name, at);
    UniqueFd link(bpf_obj_get(path.c_str()));
    if (!link)
        return failErrno("open " + path.string());
    auto prog = openRevisionProgram(function.kind, function.name, function.revision, at.hook);
    if (!prog)
        return std::unexpected(prog.error());
    UniqueFd progFd(*prog);
    // The kernel swaps the program in one step: no packet sees no program.
    if (bpf_link_update(link.get(), progFd.get(), nullptr) != 0)
        return failErrno("update link " + path.string());
    return {};
}

Status BpfKernel::detach(const std::string& kind, const std::string& name,
                         const plan::Attachment& at) {
    const fs::path path = pins_.link(kind, name, at);
    UniqueFd link(bpf_obj_get(path.c_str()));
    if (link && bpf_link_detach(link.get()) != 0 && errno != ENOLINK && errno != EINVAL)
        return failErrno("detach " + path.string());
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
        return failErrno("unpin " + path.string());
    return {};
}

Status BpfKernel::unload(const std::string& kind, const std::string& name,
                         const std::string& revision) {
    if (Status removed = removePinTree(pins_.revision(kind, name, revision)); !removed)
        return removed;
    // The function's directory goes with its last revision and link.
    const fs::path dir = pins_.function(kind, name);
    if (listDirectory(pins_.links(kind, name)).empty())
        ::rmdir(pins_.links(kind, name).c_str());
    if (listDirectory(dir).empty()) {
        ::rmdir(dir.c_str());
        // A tunnel's veth pair goes with its last revision.
        if (kind == kTunnelKind)
            return removeTunnelDevices(name);
    }
    return {};
}

Status BpfKernel::reset() {
    auto observed = observe();
    if (!observed)
        return std::unexpected(observed.error());
    for (const plan::ObservedFunction& f : observed->functions) {
        for (const plan::ObservedAttachment& link : f.attachments) {
            if (Status done = detach(f.kind, f.name, link.attachment); !done)
                return done;
        }
    }
    for (const std::string& kind : knownKinds()) {
        if (Status removed = removePinTree(pins_.root() / kind); !removed)
            return removed;
    }
    ::rmdir(pins_.root().c_str()); // only if empty: other things may live there
    return removeAllOwnedDevices();
}

} // namespace l3af::kernel
