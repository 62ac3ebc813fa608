#include "daemon/reconcile.h"

namespace l3af::daemon {

ReconcileReport reconcile(const config::Config& config, plan::Kernel& kernel,
                          const KernelFacts& facts, const plan::ExecuteHooks& hooks) {
    ReconcileReport report;
    // Objects are read afresh on every reconcile (a rebuilt object file is a
    // new revision even when the TOML did not change), but once per reconcile.
    const kernel::ResolvedPrograms programs = kernel::resolvePrograms(config);
    for (int round = 0; round < 3; round++) {
        const DesiredState want = desiredState(config, facts, programs);
        auto observed = kernel.observeFor(want.desired);
        if (!observed) {
            report.observe_failed = true;
            report.errors.push_back("observe: " + observed.error().message());
            break;
        }
        const plan::Plan plan = plan::computePlan(want.desired, *observed);
        report.pending = plan.pending;
        report.pending.insert(report.pending.end(), want.waiting.begin(), want.waiting.end());
        if (round == 0)
            report.errors.insert(report.errors.end(), want.errors.begin(), want.errors.end());
        if (plan.empty())
            break;
        plan::ApplyReport applied = plan::execute(plan, want.desired, kernel, hooks);
        for (plan::ActionResult& result : applied.results) {
            if (result.error)
                report.errors.push_back(result.error->message());
            report.results.push_back(std::move(result));
        }
        if (!applied.ok())
            break;
    }
    return report;
}

} // namespace l3af::daemon
