#include "kernel/flow_function.h"

#include "flow.skel.h"
#include "kernel/hash.h"
#include "kernel/libbpf_log.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <memory>

namespace l3af::kernel {

namespace {

struct SkeletonDeleter {
    void operator()(flow_bpf* skel) const { flow_bpf__destroy(skel); }
};
using FlowSkeleton = std::unique_ptr<flow_bpf, SkeletonDeleter>;

Status pin(int fd, const std::filesystem::path& path) {
    if (bpf_obj_pin(fd, path.c_str()) != 0)
        return failErrno("pin " + path.string());
    return {};
}

} // namespace

std::string flowRevision(const plan::FlowExporterSpec& spec) {
    size_t size = 0;
    const void* elf = flow_bpf__elf_bytes(&size);
    return ContentHash().add(kFlowExporterKind).add(elf, size).add(spec.max_flows).hex();
}

const char* flowProgramFor(plan::Hook hook) {
    return hook == plan::Hook::TcEgress ? "flow_egress" : "flow_ingress";
}

Status loadFlowRevision(const plan::FlowExporterSpec& spec, const std::filesystem::path& dir) {
    LibbpfLogCapture log;
    FlowSkeleton skel(flow_bpf__open());
    if (!skel)
        return failErrno("open flow program");
    if (bpf_map__set_max_entries(skel->maps.flows, spec.max_flows) != 0 ||
        bpf_map__set_max_entries(skel->maps.baseline, spec.max_flows) != 0)
        return failErrno("size flow table");
    if (int err = flow_bpf__load(skel.get()); err != 0)
        return fail(-err, "load flow program" + log.summary());

    if (Status made = makePinDirectory(dir); !made)
        return made;
    const struct {
        int fd;
        const char* name;
    } objects[] = {
        {bpf_program__fd(skel->progs.flow_ingress), "flow_ingress"},
        {bpf_program__fd(skel->progs.flow_egress), "flow_egress"},
        {bpf_map__fd(skel->maps.flows), "flows"},
        {bpf_map__fd(skel->maps.baseline), "baseline"},
        {bpf_map__fd(skel->maps.flow_stats), "flow_stats"},
    };
    for (const auto& o : objects) {
        if (Status pinned = pin(o.fd, dir / o.name); !pinned) {
            (void)removePinTree(dir);
            return pinned;
        }
    }
    return {};
}

Result<FlowMaps> openFlowMaps(const std::filesystem::path& dir) {
    FlowMaps maps;
    const struct {
        UniqueFd* fd;
        const char* name;
    } objects[] = {
        {&maps.flows, "flows"}, {&maps.baseline, "baseline"}, {&maps.stats, "flow_stats"}};
    for (const auto& o : objects) {
        const auto path = dir / o.name;
        o.fd->reset(bpf_obj_get(path.c_str()));
        if (!o.fd->valid())
            return failErrno("open " + path.string());
    }
    return maps;
}

} // namespace l3af::kernel
