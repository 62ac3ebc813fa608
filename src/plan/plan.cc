#include "plan/plan.h"

#include <algorithm>
#include <map>

namespace l3af::plan {

const char* toString(Hook hook) {
    switch (hook) {
    case Hook::TcIngress:
        return "tc-ingress";
    case Hook::TcEgress:
        return "tc-egress";
    case Hook::Xdp:
        return "xdp";
    }
    return "?";
}

std::string Attachment::str() const {
    return interface + " " + toString(hook);
}

const char* toString(ActionType type) {
    switch (type) {
    case ActionType::Load:
        return "load";
    case ActionType::Attach:
        return "attach";
    case ActionType::Update:
        return "update";
    case ActionType::Detach:
        return "detach";
    case ActionType::Unload:
        return "unload";
    }
    return "?";
}

std::string Action::str() const {
    std::string what = kind + " '" + name + "'";
    switch (type) {
    case ActionType::Load:
        return "load " + what + " revision " + revision;
    case ActionType::Attach:
        return "attach " + what + " revision " + revision + " to " + attachment->str();
    case ActionType::Update:
        return "update " + what + " on " + attachment->str() + " to revision " + revision;
    case ActionType::Detach:
        return "detach " + what + " from " + attachment->str();
    case ActionType::Unload:
        return "unload " + what + " revision " + revision;
    }
    return "?";
}

namespace {

using NameKey = std::pair<std::string, std::string>; // kind, name

template <typename T> std::map<NameKey, const T*> indexByName(const std::vector<T>& functions) {
    std::map<NameKey, const T*> index;
    for (const T& f : functions)
        index[{f.kind, f.name}] = &f;
    return index;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

// Appends the actions for one function present in both states (or only in
// desired, with `seen` null).
void planFunction(const DesiredFunction& want, const ObservedFunction* seen,
                  const std::set<std::string>& interfaces, Plan& plan,
                  std::vector<Action>& removals) {
    const auto action = [&](ActionType type, std::string revision,
                            std::optional<Attachment> attachment = std::nullopt) {
        return Action{type, want.kind, want.name, std::move(revision), std::move(attachment)};
    };

    if (!seen || !contains(seen->revisions, want.revision))
        plan.actions.push_back(action(ActionType::Load, want.revision));

    std::map<Attachment, const ObservedAttachment*> links;
    if (seen) {
        for (const ObservedAttachment& link : seen->attachments)
            links[link.attachment] = &link;
    }

    for (const Attachment& at : want.attachments) {
        auto it = links.find(at);
        const ObservedAttachment* link = it == links.end() ? nullptr : it->second;
        if (link)
            links.erase(it);
        const bool present =
            interfaces.contains(at.interface) ||
            std::find(want.provides_interfaces.begin(), want.provides_interfaces.end(),
                      at.interface) != want.provides_interfaces.end();
        if (link && !link->live) {
            // The interface went away or was recreated: the old link is dead
            // and its pin must go before a new link can take its place.
            plan.actions.push_back(action(ActionType::Detach, "", at));
            link = nullptr;
        }
        if (!present) {
            plan.pending.push_back(want.kind + " '" + want.name + "' on " + at.str() +
                                   ": no such interface");
            continue;
        }
        if (!link)
            plan.actions.push_back(action(ActionType::Attach, want.revision, at));
        else if (link->revision != want.revision)
            plan.actions.push_back(action(ActionType::Update, want.revision, at));
    }

    // Links no longer wanted.
    for (const auto& [at, link] : links)
        removals.push_back(action(ActionType::Detach, "", at));

    if (seen) {
        for (const std::string& revision : seen->revisions) {
            if (revision != want.revision)
                removals.push_back(action(ActionType::Unload, revision));
        }
    }
}

} // namespace

Plan computePlan(const Desired& desired, const Observed& observed) {
    Plan plan;
    std::vector<Action> removals;
    const auto seenIndex = indexByName(observed.functions);
    const auto wantIndex = indexByName(desired.functions);

    for (const auto& [id, want] : wantIndex) {
        auto it = seenIndex.find(id);
        planFunction(*want, it == seenIndex.end() ? nullptr : it->second, observed.interfaces, plan,
                     removals);
    }

    // Functions no longer declared at all: detach everywhere, then unload.
    for (const auto& [id, seen] : seenIndex) {
        const bool held = std::find(desired.held.begin(), desired.held.end(),
                                    FunctionId{id.first, id.second}) != desired.held.end();
        if (wantIndex.contains(id) || held)
            continue;
        for (const ObservedAttachment& link : seen->attachments)
            removals.push_back(
                Action{ActionType::Detach, seen->kind, seen->name, "", link.attachment});
        for (const std::string& revision : seen->revisions)
            removals.push_back(Action{ActionType::Unload, seen->kind, seen->name, revision, {}});
    }

    // Detaches before unloads, so no link outlives the revision it runs.
    std::stable_partition(removals.begin(), removals.end(),
                          [](const Action& a) { return a.type == ActionType::Detach; });
    plan.actions.insert(plan.actions.end(), removals.begin(), removals.end());
    return plan;
}

} // namespace l3af::plan
