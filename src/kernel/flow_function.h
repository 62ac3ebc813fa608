#pragma once

// The flow exporter's eBPF side: loading a revision of flow.bpf.c (embedded
// through its skeleton) and opening the maps of a loaded revision.

#include "common/error.h"
#include "common/unique_fd.h"
#include "kernel/function_types.h"
#include "kernel/pins.h"
#include "plan/state.h"

#include <filesystem>
#include <string>

namespace l3af::kernel {

// Content hash of the embedded object and the load-time settings.
std::string flowRevision(const plan::FlowExporterSpec& spec);

// Loads the programs and maps and pins them in `dir`.
[[nodiscard]] Status loadFlowRevision(const plan::FlowExporterSpec& spec,
                                      const std::filesystem::path& dir);

// The pinned program (file name in a revision directory) that serves a hook.
const char* flowProgramFor(plan::Hook hook);

struct FlowMaps {
    UniqueFd flows;
    UniqueFd baseline;
    UniqueFd stats;
};
[[nodiscard]] Result<FlowMaps> openFlowMaps(const std::filesystem::path& revision_dir);

} // namespace l3af::kernel
