#include "kernel/program_function.h"

#include "common/unique_fd.h"
#include "kernel/bpf_object.h"
#include "kernel/libbpf_log.h"
#include "kernel/pins.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <cstring>
#include <memory>

namespace l3af::kernel {

namespace fs = std::filesystem;

namespace {

bool perCpu(bpf_map_type type) {
    return type == BPF_MAP_TYPE_PERCPU_ARRAY || type == BPF_MAP_TYPE_PERCPU_HASH ||
           type == BPF_MAP_TYPE_LRU_PERCPU_HASH || type == BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE;
}

struct OpenMap {
    UniqueFd fd;
    bpf_map_info info{};
    size_t copies = 1; // values per lookup: the number of possible CPUs for per-CPU maps
    size_t stride = 0; // bytes between copies
};

Result<OpenMap> openMap(const fs::path& path) {
    OpenMap map;
    map.fd.reset(bpf_obj_get(path.c_str()));
    if (!map.fd)
        return failErrno("open map " + path.string());
    uint32_t len = sizeof map.info;
    if (bpf_map_get_info_by_fd(map.fd.get(), &map.info, &len) != 0)
        return failErrno("read map info " + path.string());
    map.stride = map.info.value_size;
    if (perCpu(static_cast<bpf_map_type>(map.info.type))) {
        const int cpus = libbpf_num_possible_cpus();
        if (cpus <= 0)
            return fail(-cpus, "count possible CPUs");
        map.copies = static_cast<size_t>(cpus);
        map.stride = (map.info.value_size + 7) / 8 * 8;
    }
    return map;
}

} // namespace

const char* programProgramFor(plan::Hook) {
    return "prog";
}

Status loadProgramRevision(const plan::ProgramSpec& spec, const fs::path& dir,
                           const fs::path& maps_dir) {
    LibbpfLogCapture log;
    BpfObjectPtr object(bpf_object__open_file(spec.object.c_str(), nullptr));
    if (!object)
        return failErrno("open " + spec.object + log.summary());
    bpf_program* program = loadOnly(object.get(), spec.function);
    if (!program)
        return fail(ENOENT, spec.object + " has no function " + spec.function);

    // Maps already pinned for this function keep their contents.
    auto toPin = reusePinnedMaps(object.get(), maps_dir);
    if (!toPin)
        return std::unexpected(toPin.error());
    if (int err = bpf_object__load(object.get()); err != 0)
        return fail(-err, "load " + spec.function + " from " + spec.object + log.summary());

    if (Status made = makePinDirectory(dir); !made)
        return made;
    if (Status made = makePinDirectory(maps_dir); !made)
        return made;
    if (Status pinned = pinNewMaps(*toPin); !pinned)
        return pinned;
    const fs::path prog = dir / programProgramFor(spec.hook);
    if (bpf_obj_pin(bpf_program__fd(program), prog.c_str()) != 0) {
        Error error = Error::fromErrno("pin " + prog.string());
        (void)removePinTree(dir);
        return std::unexpected(error);
    }
    return {};
}

Status writeProgramMaps(const plan::ProgramSpec& spec, const fs::path& maps_dir) {
    for (const plan::MapContents& contents : spec.maps) {
        auto map = openMap(maps_dir / contents.map);
        if (!map)
            return std::unexpected(map.error());
        std::vector<uint8_t> values;
        for (const plan::MapEntryBytes& entry : contents.entries) {
            if (entry.key.size() != map->info.key_size ||
                entry.value.size() != map->info.value_size)
                return fail(EINVAL, "map " + contents.map + ": entry size does not match the map");
            values.assign(map->copies * map->stride, 0);
            for (size_t cpu = 0; cpu < map->copies; cpu++)
                std::memcpy(values.data() + cpu * map->stride, entry.value.data(),
                            entry.value.size());
            if (bpf_map_update_elem(map->fd.get(), entry.key.data(), values.data(), BPF_ANY) != 0)
                return failErrno("write map " + contents.map);
        }
    }
    return {};
}

std::vector<plan::MapContents> readProgramMaps(const plan::ProgramSpec& spec,
                                               const fs::path& maps_dir) {
    std::vector<plan::MapContents> out;
    for (const plan::MapContents& declared : spec.maps) {
        auto map = openMap(maps_dir / declared.map);
        if (!map)
            continue;
        plan::MapContents found{declared.map, {}};
        std::vector<uint8_t> values;
        for (const plan::MapEntryBytes& entry : declared.entries) {
            if (entry.key.size() != map->info.key_size)
                continue;
            values.assign(map->copies * map->stride, 0);
            if (bpf_map_lookup_elem(map->fd.get(), entry.key.data(), values.data()) != 0)
                continue;
            const size_t size = map->info.value_size;
            bool same = true;
            for (size_t cpu = 1; cpu < map->copies; cpu++)
                same = same &&
                       std::memcmp(values.data(), values.data() + cpu * map->stride, size) == 0;
            if (same)
                found.entries.push_back({entry.key, {values.begin(), values.begin() + size}});
        }
        out.push_back(std::move(found));
    }
    return out;
}

} // namespace l3af::kernel
