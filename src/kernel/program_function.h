#pragma once

// Any eBPF program from an object file ([[program]]): loading a revision with
// the function's maps, which live beside its revisions (pin-layout.md) so
// that their contents survive program updates and daemon restarts, and
// writing and reading back the entries the files declare.

#include "common/error.h"
#include "plan/state.h"

#include <filesystem>
#include <vector>

namespace l3af::kernel {

// The pinned program in a revision directory (for every hook).
const char* programProgramFor(plan::Hook hook);

// Loads `spec.function` from its object, reusing the maps pinned in
// `maps_dir` that still fit the object's definitions (the others are
// created and their pins replaced), and pins the program in `dir`. A
// verifier rejection comes back with the verifier's log.
[[nodiscard]] Status loadProgramRevision(const plan::ProgramSpec& spec,
                                         const std::filesystem::path& dir,
                                         const std::filesystem::path& maps_dir);

// Writes the declared entries (per-CPU maps: the same value on every CPU).
[[nodiscard]] Status writeProgramMaps(const plan::ProgramSpec& spec,
                                      const std::filesystem::path& maps_dir);

// The values the declared keys hold now; a key that is missing, or whose
// per-CPU copies differ, is left out.
std::vector<plan::MapContents> readProgramMaps(const plan::ProgramSpec& spec,
                                               const std::filesystem::path& maps_dir);

} // namespace l3af::kernel
