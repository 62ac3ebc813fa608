#pragma once

// What loading a [[program]]'s object shares between the TC path
// (program_function) and the XDP path (xdp_chain): the object handle, the
// one function that goes into the kernel, and the function's maps, which
// live in a directory of their own so that their contents outlive revisions.

#include "common/error.h"

#include <bpf/libbpf.h>

#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace l3af::kernel {

struct BpfObjectClose {
    void operator()(bpf_object* object) const { bpf_object__close(object); }
};
using BpfObjectPtr = std::unique_ptr<bpf_object, BpfObjectClose>;

// Marks `function` alone for loading, not its neighbours; its program, or
// null when the object has no such function.
bpf_program* loadOnly(bpf_object* object, const std::string& function);

// Maps to pin once the object is loaded: new ones, and those whose pin no
// longer fits the object's definition.
using NewMapPins = std::vector<std::pair<bpf_map*, std::filesystem::path>>;

// Points the object's maps at the pins in `map_dir` that still fit (type,
// key and value size, entries, flags); internal maps (.rodata, .data, .bss)
// belong to one build and are left out. A `pinning` attribute in the object
// is overridden: l3afd decides where maps live.
[[nodiscard]] Result<NewMapPins> reusePinnedMaps(bpf_object* object,
                                                 const std::filesystem::path& map_dir);

// Pins the maps of a loaded object, replacing pins that no longer fit: the
// program still running with the old map keeps it until it is unloaded.
// Appends each pin made to `made` when given (for the caller to undo).
[[nodiscard]] Status pinNewMaps(const NewMapPins& maps,
                                std::vector<std::filesystem::path>* made = nullptr);

} // namespace l3af::kernel
