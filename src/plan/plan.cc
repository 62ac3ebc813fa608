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

const char* toString(Mechanism mechanism) {
    switch (mechanism) {
    case Mechanism::Tcx:
        return "tcx";
    case Mechanism::ClsBpf:
        return "cls_bpf";
    case Mechanism::Xdp:
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
    case ActionType::WriteMaps:
        return "write-maps";
    case ActionType::Attach:
        return "attach";
    case ActionType::Move:
        return "move";
    case ActionType::Update:
        return "update";
    case ActionType::Detach:
        return "detach";
    case ActionType::Unload:
        return "unload";
    }
    return "?";
}

namespace {

std::string describe(const FunctionId& id) {
    return id.kind + " '" + id.name + "'";
}

// " before mirror 'm'", " (cls_bpf prio 20)": where an attachment goes.
std::string placementText(Mechanism mechanism, const Placement& at) {
    switch (mechanism) {
    case Mechanism::Tcx:
        if (at.before)
            return " before " + describe(*at.before);
        if (at.after)
            return " after " + describe(*at.after);
        return "";
    case Mechanism::ClsBpf:
        return " (cls_bpf prio " + std::to_string(at.priority) + ")";
    case Mechanism::Xdp:
        return " (xdp priority " + std::to_string(at.priority) + ")";
    }
    return "";
}

std::string foundText(Mechanism mechanism, uint32_t priority) {
    switch (mechanism) {
    case Mechanism::Tcx:
        return "tcx";
    case Mechanism::ClsBpf:
        return "cls_bpf prio " + std::to_string(priority);
    case Mechanism::Xdp:
        return "xdp priority " + std::to_string(priority);
    }
    return "?";
}

} // namespace

std::string Action::str() const {
    std::string what = kind + " '" + name + "'";
    switch (type) {
    case ActionType::Load:
        return "load " + what + " revision " + revision;
    case ActionType::WriteMaps: {
        std::string list;
        for (const std::string& map : maps)
            list += (list.empty() ? "" : ", ") + map;
        return "write map entries of " + what + ": " + list;
    }
    case ActionType::Attach:
        return "attach " + what + " revision " + revision + " to " + attachment->str() +
               placementText(mechanism, placement);
    case ActionType::Move:
        return "move " + what + " on " + attachment->str() + " from " +
               foundText(found_mechanism, found_priority) +
               (mechanism == Mechanism::Tcx ? " to tcx" : " to") +
               placementText(mechanism, placement);
    case ActionType::Update:
        return "update " + what + " on " + attachment->str() + " to revision " + revision;
    case ActionType::Detach:
        return "detach " + what + " from " + attachment->str() +
               (mechanism == Mechanism::Tcx ? ""
                                            : " (" + foundText(mechanism, found_priority) + ")");
    case ActionType::Unload:
        return "unload " + what + " revision " + revision;
    }
    return "?";
}

namespace {

template <typename T> std::map<FunctionId, const T*> indexById(const std::vector<T>& functions) {
    std::map<FunctionId, const T*> index;
    for (const T& f : functions)
        index[{f.kind, f.name}] = &f;
    return index;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

// The maps whose declared entries differ from what the kernel holds.
std::vector<std::string> staleMaps(const DesiredFunction& want, const ObservedFunction* seen) {
    std::vector<std::string> stale;
    const auto* spec = std::get_if<ProgramSpec>(&want.spec);
    if (!spec)
        return stale;
    for (const MapContents& declared : spec->maps) {
        const MapContents* found = nullptr;
        if (seen) {
            for (const MapContents& m : seen->maps) {
                if (m.map == declared.map)
                    found = &m;
            }
        }
        const bool same =
            found && std::ranges::all_of(declared.entries, [&](const MapEntryBytes& entry) {
                return std::ranges::find(found->entries, entry) != found->entries.end();
            });
        if (!same && !declared.entries.empty())
            stale.push_back(declared.map);
    }
    return stale;
}

// One function on one hook of one interface, in the chain the files want.
struct Member {
    const DesiredFunction* want;
    FunctionId id;
    const ObservedAttachment* link; // live, or null
};

// Members whose links are already in the right relative order: the longest
// run of links, in the kernel's order, whose desired ranks increase. Only
// the others move, so a reorder moves as few links as possible.
std::vector<bool> keptInOrder(const std::vector<Member>& chain, Mechanism mechanism) {
    std::vector<bool> kept(chain.size(), false);
    if (mechanism != Mechanism::Tcx) {
        for (size_t i = 0; i < chain.size(); i++) {
            const ObservedAttachment* link = chain[i].link;
            kept[i] =
                link && link->mechanism == mechanism && link->priority == chain[i].want->priority;
        }
        return kept;
    }
    std::vector<size_t> linked; // chain indexes, in the kernel's order
    for (size_t i = 0; i < chain.size(); i++) {
        if (chain[i].link && chain[i].link->mechanism == Mechanism::Tcx)
            linked.push_back(i);
    }
    std::ranges::sort(linked, {}, [&](size_t i) { return chain[i].link->position; });
    // Longest increasing subsequence of chain indexes (quadratic: chains are short).
    std::vector<size_t> length(linked.size(), 1), previous(linked.size(), SIZE_MAX);
    size_t best = SIZE_MAX;
    for (size_t j = 0; j < linked.size(); j++) {
        for (size_t i = 0; i < j; i++) {
            if (linked[i] < linked[j] && length[i] + 1 > length[j]) {
                length[j] = length[i] + 1;
                previous[j] = i;
            }
        }
        if (best == SIZE_MAX || length[j] > length[best])
            best = j;
    }
    for (size_t j = best; j != SIZE_MAX; j = previous[j])
        kept[linked[j]] = true;
    return kept;
}

// Places every member of one chain that is not attached, or not where it
// belongs, working from the back so that each anchor is in place first.
void planChain(const Attachment& at, const std::vector<Member>& chain, Mechanism mechanism,
               std::vector<Action>& out) {
    const std::vector<bool> kept = keptInOrder(chain, mechanism);
    std::optional<size_t> lastKept;
    for (size_t i = 0; i < chain.size(); i++) {
        if (kept[i])
            lastKept = i;
    }
    for (size_t i = chain.size(); i-- > 0;) {
        const Member& m = chain[i];
        Action action{ActionType::Attach, m.id.kind, m.id.name, m.want->revision, at};
        action.mechanism = mechanism;
        if (m.link) {
            action.found_mechanism = m.link->mechanism;
            action.found_priority = m.link->priority;
        }
        if (kept[i]) {
            if (m.link->revision != m.want->revision) {
                action.type = ActionType::Update;
                out.push_back(std::move(action));
            }
            continue;
        }
        action.type = m.link ? ActionType::Move : ActionType::Attach;
        action.placement.priority = m.want->priority;
        if (mechanism == Mechanism::Tcx) {
            if (i + 1 < chain.size())
                action.placement.before = chain[i + 1].id;
            else if (lastKept)
                action.placement.after = chain[*lastKept].id;
        }
        out.push_back(std::move(action));
    }
}

} // namespace

Action detachAction(const FunctionId& id, const ObservedAttachment& link) {
    Action action{ActionType::Detach, id.kind, id.name, "", link.attachment};
    action.mechanism = action.found_mechanism = link.mechanism;
    action.found_priority = link.priority;
    return action;
}

Plan computePlan(const Desired& desired, const Observed& observed) {
    Plan plan;
    std::vector<Action> deadLinks;
    std::vector<Action> removals;
    std::map<Attachment, std::vector<Member>> chains;
    const auto seenIndex = indexById(observed.functions);
    const auto wantIndex = indexById(desired.functions);

    for (const auto& [id, want] : wantIndex) {
        auto it = seenIndex.find(id);
        const ObservedFunction* seen = it == seenIndex.end() ? nullptr : it->second;

        if (!seen || !contains(seen->revisions, want->revision))
            plan.actions.push_back(
                Action{ActionType::Load, want->kind, want->name, want->revision, {}});
        if (auto stale = staleMaps(*want, seen); !stale.empty()) {
            Action write{ActionType::WriteMaps, want->kind, want->name, want->revision, {}};
            write.maps = std::move(stale);
            plan.actions.push_back(std::move(write));
        }

        std::map<Attachment, const ObservedAttachment*> links;
        if (seen) {
            for (const ObservedAttachment& link : seen->attachments)
                links[link.attachment] = &link;
        }
        for (const Attachment& at : want->attachments) {
            auto found = links.find(at);
            const ObservedAttachment* link = found == links.end() ? nullptr : found->second;
            if (link)
                links.erase(found);
            if (link && !link->live) {
                // The interface went away or was recreated: the old link is
                // dead and its pin must go before a new one takes its place.
                deadLinks.push_back(detachAction(id, *link));
                link = nullptr;
            }
            const bool present = observed.interfaces.contains(at.interface) ||
                                 contains(want->provides_interfaces, at.interface);
            if (!present) {
                plan.pending.push_back(want->kind + " '" + want->name + "' on " + at.str() +
                                       ": no such interface");
                continue;
            }
            chains[at].push_back(Member{want, id, link});
        }

        // Attachments no longer wanted.
        for (const auto& [at, link] : links)
            removals.push_back(detachAction(id, *link));
        if (seen) {
            for (const std::string& revision : seen->revisions) {
                if (revision != want->revision)
                    removals.push_back(
                        Action{ActionType::Unload, want->kind, want->name, revision, {}});
            }
        }
    }

    plan.actions.insert(plan.actions.end(), deadLinks.begin(), deadLinks.end());
    for (auto& [at, chain] : chains) {
        std::ranges::sort(chain, [](const Member& a, const Member& b) {
            return std::tie(a.want->priority, a.id) < std::tie(b.want->priority, b.id);
        });
        planChain(at, chain, desired.mechanismFor(at.hook), plan.actions);
    }

    // Functions no longer declared at all: detach everywhere, then unload.
    for (const auto& [id, seen] : seenIndex) {
        const bool held = std::ranges::find(desired.held, id) != desired.held.end();
        if (wantIndex.contains(id) || held)
            continue;
        for (const ObservedAttachment& link : seen->attachments)
            removals.push_back(detachAction(id, link));
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
