#include "kernel/bpf_kernel.h"

#include "common/unique_fd.h"
#include "kernel/cls_bpf.h"
#include "kernel/function_types.h"
#include "kernel/mirror_function.h"
#include "kernel/program_function.h"
#include "kernel/xdp_chain.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <net/if.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
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
constexpr std::string_view kClsBpfNamePrefix = "l3af:";
} // namespace

std::string clsBpfName(const std::string& kind, const std::string& name) {
    return std::string(kClsBpfNamePrefix) + kind + "/" + name;
}

namespace {

// Entries of a function's directory that are not revisions.
constexpr const char* kLinksEntry = "links";
constexpr const char* kMapsEntry = "maps";

const char* programFor(const std::string& kind, plan::Hook hook) {
    const FunctionType* type = functionType(kind);
    return type ? type->programFor(hook) : nullptr;
}

bpf_attach_type tcxAttachType(plan::Hook hook) {
    return hook == plan::Hook::TcEgress ? BPF_TCX_EGRESS : BPF_TCX_INGRESS;
}

bool isIngress(plan::Hook hook) {
    return hook != plan::Hook::TcEgress;
}

// What a pinned object is. bpf(BPF_OBJ_GET_INFO_BY_FD) fills in whatever the
// fd is, whatever struct it is handed, so the type comes from fdinfo.
enum class BpfObject { Program, Map, Link, Other };

BpfObject objectType(int fd) {
    std::ifstream in("/proc/self/fdinfo/" + std::to_string(fd));
    std::string line;
    BpfObject type = BpfObject::Other;
    while (std::getline(in, line)) {
        if (line.starts_with("link_type:"))
            return BpfObject::Link; // link fdinfo names its program too
        if (line.starts_with("prog_type:"))
            type = BpfObject::Program;
        else if (line.starts_with("map_type:"))
            type = BpfObject::Map;
    }
    return type;
}

std::optional<uint32_t> programId(int fd) {
    if (objectType(fd) != BpfObject::Program)
        return std::nullopt;
    bpf_prog_info info{};
    uint32_t len = sizeof info;
    if (bpf_prog_get_info_by_fd(fd, &info, &len) != 0)
        return std::nullopt;
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

// Link ids on a TCX hook, in the order the kernel runs them.
std::vector<uint32_t> tcxLinkOrder(unsigned ifindex, plan::Hook hook) {
    std::vector<uint32_t> progs(64), links(64);
    LIBBPF_OPTS(bpf_prog_query_opts, opts);
    opts.prog_ids = progs.data();
    opts.link_ids = links.data();
    opts.count = static_cast<uint32_t>(links.size());
    if (bpf_prog_query_opts(static_cast<int>(ifindex), tcxAttachType(hook), &opts) != 0)
        return {};
    links.resize(std::min<size_t>(opts.count, links.size()));
    return links;
}

Result<unsigned> ifindexOf(const std::string& interface) {
    const unsigned ifindex = if_nametoindex(interface.c_str());
    if (ifindex == 0)
        return failErrno("interface " + interface);
    return ifindex;
}

Status pinAt(int fd, const fs::path& path) {
    if (bpf_obj_pin(fd, path.c_str()) != 0)
        return failErrno("pin " + path.string());
    return {};
}

Status unpin(const fs::path& path) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
        return failErrno("unpin " + path.string());
    return {};
}

// The program an XDP component runs is pinned in its revision too, so that
// observe() can tell which revision runs where.
std::string xdpRevisionPin(const plan::Attachment& at) {
    return "xdp@" + at.interface;
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

namespace {

// What the hooks run, each asked of the kernel at most once per observe.
class HookViews {
  public:
    const std::vector<uint32_t>& tcxLinks(unsigned ifindex, plan::Hook hook) {
        auto [it, fresh] = tcx_.try_emplace({ifindex, hook});
        if (fresh)
            it->second = tcxLinkOrder(ifindex, hook);
        return it->second;
    }
    const std::vector<ClsBpfFilter>& filters(unsigned ifindex, plan::Hook hook) {
        auto [it, fresh] = filters_.try_emplace({ifindex, hook});
        if (fresh) {
            if (auto listed = listClsBpf(ifindex, isIngress(hook)))
                it->second = std::move(*listed);
        }
        return it->second;
    }
    const std::vector<XdpComponent>& xdp(unsigned ifindex) {
        auto [it, fresh] = xdp_.try_emplace(ifindex);
        if (fresh) {
            if (auto listed = listXdp(ifindex))
                it->second = std::move(*listed);
        }
        return it->second;
    }

  private:
    std::map<std::pair<unsigned, plan::Hook>, std::vector<uint32_t>> tcx_;
    std::map<std::pair<unsigned, plan::Hook>, std::vector<ClsBpfFilter>> filters_;
    std::map<unsigned, std::vector<XdpComponent>> xdp_;
};

// Index of the first element whose `field` equals `value`, if any.
template <typename T, typename V, typename F>
std::optional<uint32_t> indexOf(const std::vector<T>& list, const V& value, F field) {
    auto it = std::ranges::find(list, value, field);
    if (it == list.end())
        return std::nullopt;
    return static_cast<uint32_t>(it - list.begin());
}

// One attachment read back from its pin (pin-layout.md): a TCX link, or the
// program a cls_bpf filter or an XDP dispatcher component runs. `revisionOf`
// names the revision a program id belongs to.
template <typename RevisionOf>
plan::ObservedAttachment observeAttachment(const plan::Attachment& at, const fs::path& pin,
                                           const std::string& filter_name,
                                           const RevisionOf& revisionOf, HookViews& views) {
    plan::ObservedAttachment link{at, 0, false, ""};
    UniqueFd fd(bpf_obj_get(pin.c_str()));
    const BpfObject type = fd ? objectType(fd.get()) : BpfObject::Other;
    const unsigned ifindex = if_nametoindex(at.interface.c_str());
    if (type == BpfObject::Link) {
        bpf_link_info info{};
        uint32_t len = sizeof info;
        if (bpf_link_get_info_by_fd(fd.get(), &info, &len) != 0)
            return link;
        link.link_id = info.id;
        link.live = info.type == BPF_LINK_TYPE_TCX && ifindex != 0 && info.tcx.ifindex == ifindex;
        link.revision = revisionOf(info.prog_id);
        if (link.live)
            link.position =
                indexOf(views.tcxLinks(ifindex, at.hook), info.id, std::identity{}).value_or(0);
        return link;
    }
    if (type != BpfObject::Program)
        return link; // neither a link nor a program: a stale pin, detached
    link.mechanism = at.hook == plan::Hook::Xdp ? plan::Mechanism::Xdp : plan::Mechanism::ClsBpf;
    if (ifindex == 0)
        return link; // the interface is gone, and its hooks with it
    if (link.mechanism == plan::Mechanism::Xdp) {
        const auto id = programId(fd.get());
        const auto& chain = views.xdp(ifindex);
        if (auto at_index = id ? indexOf(chain, *id, &XdpComponent::prog_id) : std::nullopt) {
            link.live = true;
            link.priority = chain[*at_index].run_prio;
            link.position = *at_index;
            link.revision = revisionOf(*id);
        }
        return link;
    }
    const auto& filters = views.filters(ifindex, at.hook);
    if (auto at_index = indexOf(filters, filter_name, &ClsBpfFilter::name)) {
        link.live = true;
        link.priority = filters[*at_index].prio;
        link.position = *at_index;
        link.revision = revisionOf(filters[*at_index].prog_id);
    }
    return link;
}

} // namespace

Result<plan::Observed> BpfKernel::observeFor(const plan::Desired& desired) {
    plan::Observed observed;
    observed.interfaces = presentInterfaces();
    HookViews views;

    for (const std::string& kind : knownKinds()) {
        for (const std::string& name : listDirectory(pins_.root() / kind)) {
            plan::ObservedFunction function{kind, name, {}, {}, {}};
            // Program id -> revision, to tell which revision each hook runs.
            std::map<uint32_t, std::string> revisionOfProgram;
            for (const std::string& entry : listDirectory(pins_.function(kind, name))) {
                if (entry == kLinksEntry || entry == kMapsEntry)
                    continue;
                function.revisions.push_back(entry);
                for (const std::string& file : listDirectory(pins_.revision(kind, name, entry))) {
                    const fs::path path = pins_.revision(kind, name, entry) / file;
                    UniqueFd fd(bpf_obj_get(path.c_str()));
                    if (auto id = fd ? programId(fd.get()) : std::nullopt)
                        revisionOfProgram[*id] = entry;
                }
            }
            const auto revisionOf = [&](uint32_t prog_id) {
                auto it = revisionOfProgram.find(prog_id);
                return it == revisionOfProgram.end() ? std::string() : it->second;
            };
            for (const std::string& file : listDirectory(pins_.links(kind, name))) {
                if (auto at = PinLayout::parseLinkFileName(file))
                    function.attachments.push_back(
                        observeAttachment(*at, pins_.links(kind, name) / file,
                                          clsBpfName(kind, name), revisionOf, views));
            }
            for (const plan::DesiredFunction& want : desired.functions) {
                const auto* spec = std::get_if<plan::ProgramSpec>(&want.spec);
                if (spec && want.kind == kind && want.name == name)
                    function.maps = readProgramMaps(*spec, pins_.maps(kind, name));
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

Status BpfKernel::writeMaps(const plan::DesiredFunction& function) {
    const auto* spec = std::get_if<plan::ProgramSpec>(&function.spec);
    if (!spec)
        return fail(EINVAL, function.kind + " '" + function.name + "' declares no maps");
    return writeProgramMaps(*spec, pins_.maps(function.kind, function.name));
}

Status BpfKernel::attach(const plan::DesiredFunction& function, const plan::Action& action) {
    const plan::Attachment& at = *action.attachment;
    auto ifindex = ifindexOf(at.interface);
    if (!ifindex)
        return std::unexpected(ifindex.error());
    const fs::path path = pins_.link(function.kind, function.name, at);
    if (Status made = makePinDirectory(path.parent_path()); !made)
        return made;

    if (action.mechanism == plan::Mechanism::Xdp) {
        const auto* spec = std::get_if<plan::ProgramSpec>(&function.spec);
        if (!spec)
            return fail(ENOTSUP, function.kind + " cannot run on xdp");
        auto id = attachXdp(*ifindex, spec->object, spec->function, action.placement.priority,
                            pins_.maps(function.kind, function.name), path);
        if (!id)
            return std::unexpected(id.error());
        UniqueFd component(bpf_obj_get(path.c_str()));
        const fs::path revisionPin =
            pins_.revision(function.kind, function.name, function.revision) / xdpRevisionPin(at);
        if (Status cleared = unpin(revisionPin); !cleared)
            return cleared;
        return component ? pinAt(component.get(), revisionPin) : failErrno("open " + path.string());
    }

    auto prog = openRevisionProgram(function.kind, function.name, function.revision, at.hook);
    if (!prog)
        return std::unexpected(prog.error());
    UniqueFd progFd(*prog);

    if (action.mechanism == plan::Mechanism::ClsBpf) {
        // The handle is this function's own, so a filter already at its
        // (prio, handle) is one l3afd left without a pin: take it over.
        if (Status made = ensureClsact(*ifindex); !made)
            return made;
        if (Status added = attachClsBpf(*ifindex, isIngress(at.hook),
                                        static_cast<uint16_t>(action.placement.priority),
                                        clsBpfHandle(function.kind, function.name), progFd.get(),
                                        clsBpfName(function.kind, function.name),
                                        /*replace=*/true);
            !added)
            return added;
        return pinAt(progFd.get(), path);
    }

    // TCX: just before the link of the function that follows in the chain,
    // or just after the one before it; with neither present, last.
    LIBBPF_OPTS(bpf_link_create_opts, opts);
    UniqueFd anchor;
    for (const auto& [id, flag] : {std::pair{action.placement.before, BPF_F_BEFORE},
                                   std::pair{action.placement.after, BPF_F_AFTER}}) {
        if (!id || anchor)
            continue;
        anchor.reset(bpf_obj_get(pins_.link(id->kind, id->name, at).c_str()));
        bpf_link_info info{};
        uint32_t len = sizeof info;
        if (anchor && objectType(anchor.get()) == BpfObject::Link &&
            bpf_link_get_info_by_fd(anchor.get(), &info, &len) == 0 &&
            info.type == BPF_LINK_TYPE_TCX && info.tcx.ifindex == *ifindex) {
            opts.flags = flag | BPF_F_LINK;
            opts.tcx.relative_fd = anchor.get();
        } else {
            anchor.reset();
        }
    }
    UniqueFd link(
        bpf_link_create(progFd.get(), static_cast<int>(*ifindex), tcxAttachType(at.hook), &opts));
    if (!link)
        return failErrno("TCX attach to " + at.interface);
    if (bpf_obj_pin(link.get(), path.c_str()) != 0) {
        Error error = Error::fromErrno("pin " + path.string());
        bpf_link_detach(link.get());
        return std::unexpected(error);
    }
    return {};
}

Status BpfKernel::removeFound(const plan::Action& action, int pinned_fd) {
    const plan::Attachment& at = *action.attachment;
    const unsigned ifindex = if_nametoindex(at.interface.c_str());
    switch (action.found_mechanism) {
    case plan::Mechanism::Tcx:
        if (pinned_fd >= 0 && bpf_link_detach(pinned_fd) != 0 && errno != ENOLINK &&
            errno != EINVAL)
            return failErrno("detach TCX link on " + at.str());
        return {};
    case plan::Mechanism::ClsBpf:
        // No interface: it took its filters with it. No prio: the filter was
        // not found, and prio 0 would name every filter on the hook.
        if (ifindex == 0 || action.found_priority == 0)
            return {};
        return detachClsBpf(ifindex, isIngress(at.hook),
                            static_cast<uint16_t>(action.found_priority),
                            clsBpfHandle(action.kind, action.name));
    case plan::Mechanism::Xdp: {
        const auto id = pinned_fd >= 0 ? programId(pinned_fd) : std::nullopt;
        if (ifindex == 0 || !id)
            return {};
        return detachXdp(ifindex, *id);
    }
    }
    return {};
}

Status BpfKernel::move(const plan::DesiredFunction& function, const plan::Action& action) {
    const fs::path path = pins_.link(function.kind, function.name, *action.attachment);
    UniqueFd old(bpf_obj_get(path.c_str()));
    if (Status cleared = unpin(path); !cleared)
        return cleared;
    const bool tcxToTcx =
        action.found_mechanism == plan::Mechanism::Tcx && action.mechanism == plan::Mechanism::Tcx;
    if (tcxToTcx) {
        // A TCX hook runs a program once: the link must go before its
        // replacement can take its new place.
        if (Status removed = removeFound(action, old.get()); !removed)
            return removed;
        return attach(function, action);
    }
    // Elsewhere the new attachment comes first, so the hook never lacks it.
    if (Status attached = attach(function, action); !attached) {
        if (old)
            (void)pinAt(old.get(), path);
        return attached;
    }
    return removeFound(action, old.get());
}

Status BpfKernel::update(const plan::DesiredFunction& function, const plan::Action& action) {
    const plan::Attachment& at = *action.attachment;
    const fs::path path = pins_.link(function.kind, function.name, at);
    switch (action.found_mechanism) {
    case plan::Mechanism::Tcx: {
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
    case plan::Mechanism::ClsBpf: {
        auto ifindex = ifindexOf(at.interface);
        if (!ifindex)
            return std::unexpected(ifindex.error());
        auto prog = openRevisionProgram(function.kind, function.name, function.revision, at.hook);
        if (!prog)
            return std::unexpected(prog.error());
        UniqueFd progFd(*prog);
        // Replacing the filter at its (prio, handle) swaps its program atomically.
        if (Status replaced = attachClsBpf(*ifindex, isIngress(at.hook),
                                           static_cast<uint16_t>(action.found_priority),
                                           clsBpfHandle(function.kind, function.name), progFd.get(),
                                           clsBpfName(function.kind, function.name), true);
            !replaced)
            return replaced;
        if (Status cleared = unpin(path); !cleared)
            return cleared;
        return pinAt(progFd.get(), path);
    }
    case plan::Mechanism::Xdp: {
        // libxdp swaps whole dispatchers: the new component joins, then the
        // old one leaves.
        plan::Action replace = action;
        replace.placement.priority = action.found_priority;
        return move(function, replace);
    }
    }
    return {};
}

Status BpfKernel::detach(const plan::Action& action) {
    const fs::path path = pins_.link(action.kind, action.name, *action.attachment);
    UniqueFd pinned(bpf_obj_get(path.c_str()));
    if (Status removed = removeFound(action, pinned.get()); !removed)
        return removed;
    return unpin(path);
}

Status BpfKernel::unload(const std::string& kind, const std::string& name,
                         const std::string& revision) {
    if (Status removed = removePinTree(pins_.revision(kind, name, revision)); !removed)
        return removed;
    // The function's directory, and its maps, go with its last revision and link.
    const fs::path dir = pins_.function(kind, name);
    if (listDirectory(pins_.links(kind, name)).empty())
        ::rmdir(pins_.links(kind, name).c_str());
    const auto rest = listDirectory(dir);
    if (std::ranges::all_of(rest, [](const std::string& e) { return e == kMapsEntry; })) {
        if (Status removed = removePinTree(pins_.maps(kind, name)); !removed)
            return removed;
        ::rmdir(dir.c_str());
        // A tunnel's veth pair goes with its last revision.
        if (kind == kTunnelKind)
            return removeTunnelDevices(name);
    }
    return {};
}

namespace {

// The kind and name of a filter named clsBpfName(kind, name) at the handle
// that name hashes to: l3afd's own. Anything else is someone else's.
bool isOwnClsBpfFilter(const ClsBpfFilter& filter) {
    if (!filter.name.starts_with(kClsBpfNamePrefix))
        return false;
    const std::string rest = filter.name.substr(kClsBpfNamePrefix.size());
    const size_t slash = rest.find('/');
    if (slash == std::string::npos)
        return false;
    const std::string kind = rest.substr(0, slash);
    const std::string name = rest.substr(slash + 1);
    return std::ranges::find(knownKinds(), kind) != knownKinds().end() &&
           filter.handle == clsBpfHandle(kind, name);
}

// cls_bpf filters of l3afd's whose pins are gone (the daemon died between
// attaching a filter and pinning its program): observe() cannot see them,
// their names and handles say whose they are.
Status removeOrphanClsBpfFilters() {
    std::unique_ptr<struct if_nameindex[], decltype(&if_freenameindex)> ifs(if_nameindex(),
                                                                            &if_freenameindex);
    if (!ifs)
        return failErrno("list interfaces");
    for (const struct if_nameindex* i = ifs.get(); i->if_index != 0; i++) {
        for (const bool ingress : {true, false}) {
            auto filters = listClsBpf(i->if_index, ingress);
            if (!filters)
                continue; // gone meanwhile, or no clsact: nothing of ours
            for (const ClsBpfFilter& f : *filters) {
                if (!isOwnClsBpfFilter(f))
                    continue;
                if (Status done = detachClsBpf(i->if_index, ingress, f.prio, f.handle); !done)
                    return done;
            }
        }
    }
    return {};
}

} // namespace

Status BpfKernel::reset() {
    auto observed = observe();
    if (!observed)
        return std::unexpected(observed.error());
    for (const plan::ObservedFunction& f : observed->functions) {
        for (const plan::ObservedAttachment& link : f.attachments) {
            if (Status done = detach(plan::detachAction({f.kind, f.name}, link)); !done)
                return done;
        }
    }
    if (Status swept = removeOrphanClsBpfFilters(); !swept)
        return swept;
    for (const std::string& kind : knownKinds()) {
        if (Status removed = removePinTree(pins_.root() / kind); !removed)
            return removed;
    }
    ::rmdir(pins_.root().c_str()); // only if empty: other things may live there
    return removeAllOwnedDevices();
}

} // namespace l3af::kernel
