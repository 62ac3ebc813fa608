#include "kernel/mirror_function.h"

#include "common/unique_fd.h"
#include "gue_abi.h"
#include "gue_encap.skel.h"
#include "kernel/function_types.h"
#include "kernel/hash.h"
#include "kernel/libbpf_log.h"
#include "kernel/netlink.h"
#include "kernel/percpu.h"
#include "kernel/pins.h"
#include "mirror.skel.h"
#include "mirror/compile.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <fstream>
#include <memory>

namespace l3af::kernel {

namespace {

template <typename Skel, void (*Destroy)(Skel*)> struct SkeletonDeleter {
    void operator()(Skel* skel) const { Destroy(skel); }
};
using MirrorSkeleton =
    std::unique_ptr<mirror_bpf, SkeletonDeleter<mirror_bpf, mirror_bpf__destroy>>;
using GueSkeleton =
    std::unique_ptr<gue_encap_bpf, SkeletonDeleter<gue_encap_bpf, gue_encap_bpf__destroy>>;

struct Pinned {
    int fd;
    const char* name;
};

Status pinAll(std::initializer_list<Pinned> objects, const std::filesystem::path& dir) {
    if (Status made = makePinDirectory(dir); !made)
        return made;
    for (const Pinned& o : objects) {
        const auto path = dir / o.name;
        if (bpf_obj_pin(o.fd, path.c_str()) != 0) {
            Error error = Error::fromErrno("pin " + path.string());
            (void)removePinTree(dir);
            return std::unexpected(error);
        }
    }
    return {};
}

template <typename K, typename V>
Status fillMap(bpf_map* map, const mirror::MapEntries<K, V>& entries) {
    const int fd = bpf_map__fd(map);
    for (const auto& [key, value] : entries) {
        if (bpf_map_update_elem(fd, &key, &value, BPF_ANY) != 0)
            return failErrno(std::string("fill map ") + bpf_map__name(map));
    }
    return {};
}

void hashRule(ContentHash& h, const config::MirrorRule& rule) {
    const auto cidr = [&](const std::optional<config::Cidr>& c) { h.add(c ? c->str() : "-"); };
    const auto ports = [&](const std::optional<config::PortRange>& p) {
        h.add(p ? (uint64_t{p->first} << 16 | p->last) : ~uint64_t{0});
    };
    cidr(rule.src);
    cidr(rule.dst);
    h.add(rule.protocol ? uint64_t{*rule.protocol} : ~uint64_t{0});
    ports(rule.src_port);
    ports(rule.dst_port);
}

} // namespace

std::string mirrorRevision(const plan::MirrorSpec& spec) {
    size_t size = 0;
    const void* elf = mirror_bpf__elf_bytes(&size);
    ContentHash h;
    h.add(kMirrorKind).add(elf, size).add(spec.tunnel_ifindex).add(spec.snaplen);
    for (const config::MirrorRule& rule : spec.rules)
        hashRule(h, rule);
    return h.hex();
}

const char* mirrorProgramFor(plan::Hook hook) {
    switch (hook) {
    case plan::Hook::TcIngress:
        return "mirror_ingress";
    case plan::Hook::TcEgress:
        return "mirror_egress";
    case plan::Hook::Xdp:
        break;
    }
    return nullptr;
}

Status loadMirrorRevision(const plan::MirrorSpec& spec, const std::filesystem::path& dir) {
    auto compiled = mirror::compileRules(spec.rules);
    if (!compiled)
        return std::unexpected(compiled.error().wrap("compile rules"));
    LibbpfLogCapture log;
    MirrorSkeleton skel(mirror_bpf__open());
    if (!skel)
        return failErrno("open mirror program");
    skel->rodata->mirror_tunnel_ifindex = spec.tunnel_ifindex;
    skel->rodata->mirror_snaplen = spec.snaplen;
    for (size_t root = 0; root < compiled->prefix_starts.size(); root++)
        skel->rodata->mirror_prefix_starts[root] = compiled->prefix_starts[root];
    skel->rodata->mirror_dimensions = compiled->dimensions;
    const auto nodes = static_cast<uint32_t>(std::max<size_t>(compiled->prefix_nodes.size(), 1));
    if (bpf_map__set_max_entries(skel->maps.mirror_prefix_nodes, nodes) != 0)
        return failErrno("size the prefix tree");
    if (int err = mirror_bpf__load(skel.get()); err != 0)
        return fail(-err, "load mirror program" + log.summary());
    // The rules are in place before any link runs the program.
    for (Status filled : {fillMap(skel->maps.mirror_proto, compiled->proto),
                          fillMap(skel->maps.mirror_sets, compiled->sets),
                          fillMap(skel->maps.mirror_port_classes, compiled->port_classes)}) {
        if (!filled)
            return filled;
    }
    if (!compiled->prefix_nodes.empty()) {
        std::vector<uint32_t> keys(compiled->prefix_nodes.size());
        for (uint32_t i = 0; i < keys.size(); i++)
            keys[i] = i;
        __u32 count = static_cast<__u32>(keys.size());
        if (bpf_map_update_batch(bpf_map__fd(skel->maps.mirror_prefix_nodes), keys.data(),
                                 compiled->prefix_nodes.data(), &count, nullptr) != 0)
            return failErrno("fill map mirror_prefix_nodes");
    }
    return pinAll({{bpf_program__fd(skel->progs.mirror_ingress), "mirror_ingress"},
                   {bpf_program__fd(skel->progs.mirror_egress), "mirror_egress"},
                   {bpf_map__fd(skel->maps.mirror_rule_counters), "mirror_rule_counters"},
                   {bpf_map__fd(skel->maps.mirror_stats), "mirror_stats"}},
                  dir);
}

Result<MirrorCounters> readMirrorCounters(const std::filesystem::path& dir, size_t rules) {
    UniqueFd counters(bpf_obj_get((dir / "mirror_rule_counters").c_str()));
    UniqueFd stats(bpf_obj_get((dir / "mirror_stats").c_str()));
    if (!counters || !stats)
        return failErrno("open mirror counters in " + dir.string());
    MirrorCounters out;
    for (uint32_t i = 0; i < rules; i++) {
        auto perCpu = readPerCpu<mirror_rule_counter>(counters.get(), i);
        if (!perCpu)
            return std::unexpected(perCpu.error());
        mirror_rule_counter sum{};
        for (const mirror_rule_counter& c : *perCpu) {
            sum.packets += c.packets;
            sum.bytes += c.bytes;
        }
        out.rules.push_back(sum);
    }
    for (uint32_t slot : {uint32_t{MIRROR_STATS_INGRESS}, uint32_t{MIRROR_STATS_EGRESS}}) {
        auto perCpu = readPerCpu<mirror_stats>(stats.get(), slot);
        if (!perCpu)
            return std::unexpected(perCpu.error());
        mirror_stats& sum = slot == MIRROR_STATS_INGRESS ? out.ingress : out.egress;
        for (const mirror_stats& s : *perCpu) {
            sum.seen += s.seen;
            sum.matched += s.matched;
            sum.clone_failed += s.clone_failed;
            sum.not_ip += s.not_ip;
            sum.truncated += s.truncated;
            sum.own_tunnel += s.own_tunnel;
        }
    }
    return out;
}

std::string tunnelDeviceName(const std::string& tunnel) {
    // IFNAMSIZ is 16: "l3t-" leaves 11 characters; longer names are
    // shortened with a hash so two tunnels never share a device.
    if (tunnel.size() <= 11)
        return "l3t-" + tunnel;
    return "l3t-" + tunnel.substr(0, 6) + ContentHash().add(tunnel).hex().substr(0, 5);
}

std::string tunnelPeerName(const std::string& tunnel) {
    std::string device = tunnelDeviceName(tunnel);
    device[2] = 'p'; // l3p-...
    return device;
}

std::string tunnelAlias(const std::string& tunnel) {
    return "l3af:tunnel:" + tunnel;
}

std::string tunnelRevision(const plan::TunnelSpec& spec) {
    size_t size = 0;
    const void* elf = gue_encap_bpf__elf_bytes(&size);
    return ContentHash()
        .add(kTunnelKind)
        .add(elf, size)
        .add(spec.gue.local_addr)
        .add(spec.gue.remote_addr)
        .add(spec.gue.remote_port)
        .add(spec.gue.source_port)
        .add(spec.gue.ttl)
        .add(spec.gue.checksum ? 1 : 0)
        .add(spec.gue.device_ifindex)
        .add(spec.device)
        .hex();
}

const char* tunnelProgramFor(plan::Hook hook) {
    return hook == plan::Hook::TcIngress ? "gue_encap" : nullptr;
}

namespace {

Status ensureTunnelDevices(const plan::TunnelSpec& spec, const std::string& alias) {
    auto netlink = Netlink::open();
    if (!netlink)
        return std::unexpected(netlink.error());
    auto links = netlink->links();
    if (!links)
        return std::unexpected(links.error());
    for (const LinkInfo& link : *links) {
        if (link.name == spec.device || link.name == spec.peer) {
            if (link.alias != alias)
                return fail(EEXIST, "interface " + link.name +
                                        " exists and is not l3afd's (alias '" + link.alias +
                                        "'); rename the tunnel or remove the interface");
            return {};
        }
    }
    // The largest MTU, so that no mirrored frame is too big for the pair; the
    // encapsulation checks the real device's MTU itself.
    if (Status created = netlink->createVethPair(spec.device, spec.peer, alias, 65535); !created)
        return created;
    // Clones must reach the encapsulation as wire-sized packets with their
    // checksums filled in, not as GSO super-packets with checksums pending.
    if (Status offloads = disableTxOffloads(spec.device); !offloads)
        return offloads;
    // The pair carries only clones: no IPv6 link-local address, no router
    // solicitations or neighbour discovery of its own reaching the encapsulation.
    for (const std::string& dev : {spec.device, spec.peer}) {
        std::ofstream sysctl("/proc/sys/net/ipv6/conf/" + dev + "/disable_ipv6");
        sysctl << "1\n";
    }
    return {};
}

} // namespace

Status loadTunnelRevision(const plan::TunnelSpec& spec, const std::filesystem::path& dir) {
    const std::string tunnel = dir.parent_path().filename().string();
    if (Status devices = ensureTunnelDevices(spec, tunnelAlias(tunnel)); !devices)
        return devices;
    LibbpfLogCapture log;
    GueSkeleton skel(gue_encap_bpf__open());
    if (!skel)
        return failErrno("open GUE encapsulation program");
    skel->rodata->gue_local_addr = spec.gue.local_addr;
    skel->rodata->gue_remote_addr = spec.gue.remote_addr;
    skel->rodata->gue_remote_port = spec.gue.remote_port;
    skel->rodata->gue_source_port = spec.gue.source_port;
    skel->rodata->gue_ttl = spec.gue.ttl;
    skel->rodata->gue_checksum = spec.gue.checksum ? 1 : 0;
    skel->rodata->gue_device_ifindex = spec.gue.device_ifindex;
    if (int err = gue_encap_bpf__load(skel.get()); err != 0)
        return fail(-err, "load GUE encapsulation program" + log.summary());
    return pinAll({{bpf_program__fd(skel->progs.gue_encap), "gue_encap"},
                   {bpf_map__fd(skel->maps.gue_stats), "gue_stats"}},
                  dir);
}

namespace {

// Deletes every link `owned` picks (deleting one end of a veth pair deletes both).
template <typename Pred> Status deleteOwnedLinks(Pred&& owned) {
    auto netlink = Netlink::open();
    if (!netlink)
        return std::unexpected(netlink.error());
    auto links = netlink->links();
    if (!links)
        return std::unexpected(links.error());
    for (const LinkInfo& link : *links) {
        if (!owned(link))
            continue;
        if (Status deleted = netlink->deleteLink(link.name); !deleted)
            return deleted;
    }
    return {};
}

} // namespace

Status removeTunnelDevices(const std::string& tunnel) {
    return deleteOwnedLinks([&](const LinkInfo& link) {
        return link.alias == tunnelAlias(tunnel) && link.name == tunnelDeviceName(tunnel);
    });
}

Status removeAllOwnedDevices() {
    return deleteOwnedLinks([](const LinkInfo& link) {
        return link.alias.starts_with("l3af:") && link.name.starts_with("l3t-");
    });
}

Result<TunnelCounters> readTunnelCounters(const std::filesystem::path& dir) {
    UniqueFd stats(bpf_obj_get((dir / "gue_stats").c_str()));
    if (!stats)
        return failErrno("open tunnel counters in " + dir.string());
    auto perCpu = readPerCpu<gue_stats>(stats.get(), 0);
    if (!perCpu)
        return std::unexpected(perCpu.error());
    TunnelCounters out;
    for (const gue_stats& s : *perCpu) {
        out.sent += s.sent;
        out.sent_bytes += s.sent_bytes;
        out.truncated += s.truncated;
        out.too_big += s.too_big;
        out.ignored += s.not_ip + s.foreign;
        out.not_ip += s.not_ip;
        out.foreign += s.foreign;
        out.failed += s.too_big + s.failed;
    }
    return out;
}

} // namespace l3af::kernel
