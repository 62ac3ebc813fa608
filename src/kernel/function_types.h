#pragma once

// The kinds of function l3afd loads, and what differs between them: which
// pinned program serves which hook, and how a revision is loaded. Everything
// else (pins, links, plans) is the same for every kind.

#include "common/error.h"
#include "plan/state.h"

#include <filesystem>
#include <string_view>
#include <vector>

namespace l3af::kernel {

inline constexpr const char* kFlowExporterKind = "flow_exporter";
inline constexpr const char* kTunnelKind = "tunnel";
inline constexpr const char* kMirrorKind = "mirror";
inline constexpr const char* kProgramKind = "program";

struct FunctionType {
    const char* kind;
    // The pinned program (file name in a revision directory) for a hook, or
    // nullptr when the kind cannot run there.
    const char* (*programFor)(plan::Hook hook);
    // Loads a revision and pins its programs and maps in `dir`.
    Status (*load)(const plan::DesiredFunction& function, const std::filesystem::path& dir);
};

const std::vector<FunctionType>& functionTypes();
const FunctionType* functionType(std::string_view kind);

} // namespace l3af::kernel
