#pragma once

// Reading per-CPU array slots: the kernel returns one value per possible CPU.

#include "common/error.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <vector>

namespace l3af::kernel {

// Every CPU's copy of slot `index` (value sizes are multiples of 8 here, so
// the kernel's per-CPU stride is sizeof(T)).
template <typename T> Result<std::vector<T>> readPerCpu(int map_fd, uint32_t index) {
    static_assert(sizeof(T) % 8 == 0, "per-CPU values are 8-byte aligned");
    const int cpus = libbpf_num_possible_cpus();
    if (cpus <= 0)
        return fail(-cpus, "count possible CPUs");
    std::vector<T> values(static_cast<size_t>(cpus));
    if (bpf_map_lookup_elem(map_fd, &index, values.data()) != 0)
        return failErrno("read per-CPU slot " + std::to_string(index));
    return values;
}

} // namespace l3af::kernel
