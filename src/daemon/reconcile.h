#pragma once

// One reconcile: desired from the config, observed from the kernel, the plan,
// its execution; repeated while a round creates what the next one needs (a
// tunnel's device, which its mirrors send to). Shared by the daemon and
// `l3afd apply`.

#include "config/model.h"
#include "daemon/desired.h"
#include "plan/executor.h"

#include <string>
#include <vector>

namespace l3af::daemon {

struct ReconcileReport {
    std::vector<plan::ActionResult> results; // every action of every round, in order
    std::vector<std::string> pending;        // what waits for an interface or a device
    std::vector<std::string> errors;         // what failed, with file:line:column or context
    bool observe_failed = false;

    bool ok() const { return errors.empty() && !observe_failed; }
};

ReconcileReport reconcile(const config::Config& config, plan::Kernel& kernel,
                          const KernelFacts& facts, const plan::ExecuteHooks& hooks = {});

} // namespace l3af::daemon
