#pragma once

// Runs a plan against a Kernel. The Kernel interface is the test seam: unit
// tests give the executor a recording fake, the real one makes system calls.

#include "common/error.h"
#include "plan/plan.h"
#include "plan/state.h"

#include <functional>
#include <optional>
#include <vector>

namespace l3af::plan {

class Kernel {
  public:
    virtual ~Kernel() = default;

    // What l3afd has in the kernel, including the current values of the map
    // entries `desired` declares (so a plan can tell which need writing).
    [[nodiscard]] virtual Result<Observed> observeFor(const Desired& desired) = 0;
    [[nodiscard]] Result<Observed> observe() { return observeFor(Desired{}); }

    [[nodiscard]] virtual Status load(const DesiredFunction& function) = 0;
    [[nodiscard]] virtual Status writeMaps(const DesiredFunction& function) = 0;
    // Attach, Move and Update carry the attachment, its mechanism and placement.
    [[nodiscard]] virtual Status attach(const DesiredFunction& function, const Action& action) = 0;
    [[nodiscard]] virtual Status move(const DesiredFunction& function, const Action& action) = 0;
    [[nodiscard]] virtual Status update(const DesiredFunction& function, const Action& action) = 0;
    [[nodiscard]] virtual Status detach(const Action& action) = 0;
    [[nodiscard]] virtual Status unload(const std::string& kind, const std::string& name,
                                        const std::string& revision) = 0;
};

struct ActionResult {
    Action action;
    std::optional<Error> error; // empty: done
    bool skipped = false;       // not tried because an earlier step of the function failed
};

struct ApplyReport {
    std::vector<ActionResult> results;

    size_t failures() const;
    bool ok() const { return failures() == 0; }
};

struct ExecuteHooks {
    // Called before a revision is unloaded (the daemon exports what its maps
    // still hold).
    std::function<void(const Action&)> before_unload;
};

// Runs every action in order. A failure affects only its own function: the
// rest of its steps are skipped (so a function whose new revision fails to
// load keeps running its previous one), every other function still applies.
ApplyReport execute(const Plan& plan, const Desired& desired, Kernel& kernel,
                    const ExecuteHooks& hooks = {});

} // namespace l3af::plan
