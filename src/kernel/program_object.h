#pragma once

// A [[program]] checked against its object file before anything is loaded:
// the object is an eBPF ELF, the function is in it and suits the hook, the
// declared maps are in it and their entries are encoded through the maps'
// BTF. Opening an object needs no privilege and touches no kernel state, so
// `l3afd check` and a reload find these errors before the plan runs.

#include "config/loader.h"
#include "config/model.h"
#include "plan/state.h"

#include <map>
#include <string>
#include <vector>

namespace l3af::kernel {

struct ResolvedPrograms {
    // By program name; a program with any error has no spec.
    std::map<std::string, plan::ProgramSpec> specs;
    // Every error of every program (disabled ones too), each at the value
    // it is about: the object, the function, the hook, the map, the entry's
    // key or value.
    std::vector<config::Diagnostic> errors;
};

// Reads each object file once, however many programs name it.
[[nodiscard]] ResolvedPrograms resolvePrograms(const config::Config& config);

// Content hash of what the loaded program is: the object's digest, the
// function and the hook. Map entries are not in it (they are written into
// the loaded maps, no reload needed), nor are priority and interfaces.
std::string programRevision(const plan::ProgramSpec& spec);

} // namespace l3af::kernel
