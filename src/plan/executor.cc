#include "plan/executor.h"

#include <algorithm>
#include <set>

namespace l3af::plan {

size_t ApplyReport::failures() const {
    return std::count_if(results.begin(), results.end(),
                         [](const ActionResult& r) { return r.error.has_value(); });
}

namespace {

const DesiredFunction* findDesired(const Desired& desired, const Action& action) {
    for (const DesiredFunction& f : desired.functions) {
        if (f.kind == action.kind && f.name == action.name)
            return &f;
    }
    return nullptr;
}

Status run(const Action& action, const Desired& desired, Kernel& kernel,
           const ExecuteHooks& hooks) {
    const DesiredFunction* want = findDesired(desired, action);
    if (action.type != ActionType::Detach && action.type != ActionType::Unload && !want)
        return fail(EINVAL, "no desired function for this action");
    switch (action.type) {
    case ActionType::Load:
        return kernel.load(*want);
    case ActionType::WriteMaps:
        return kernel.writeMaps(*want);
    case ActionType::Attach:
        return kernel.attach(*want, action);
    case ActionType::Move:
        return kernel.move(*want, action);
    case ActionType::Update:
        return kernel.update(*want, action);
    case ActionType::Detach:
        return kernel.detach(action);
    case ActionType::Unload:
        if (hooks.before_unload)
            hooks.before_unload(action);
        return kernel.unload(action.kind, action.name, action.revision);
    }
    return fail(EINVAL, "unknown action");
}

} // namespace

ApplyReport execute(const Plan& plan, const Desired& desired, Kernel& kernel,
                    const ExecuteHooks& hooks) {
    ApplyReport report;
    // A function whose new revision failed to load skips all its other
    // steps; one whose link could not move skips unloading old revisions,
    // which may still be running.
    std::set<std::pair<std::string, std::string>> loadFailed;
    std::set<std::pair<std::string, std::string>> linkFailed;
    for (const Action& action : plan.actions) {
        const std::pair<std::string, std::string> id{action.kind, action.name};
        ActionResult result{action, std::nullopt, false};
        if (loadFailed.contains(id) ||
            (action.type == ActionType::Unload && linkFailed.contains(id))) {
            result.skipped = true;
            report.results.push_back(std::move(result));
            continue;
        }
        if (Status done = run(action, desired, kernel, hooks); !done) {
            result.error = done.error().wrap(action.str());
            (action.type == ActionType::Load ? loadFailed : linkFailed).insert(id);
        }
        report.results.push_back(std::move(result));
    }
    return report;
}

} // namespace l3af::plan
