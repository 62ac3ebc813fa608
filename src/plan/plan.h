#pragma once

// The plan: the ordered list of actions that turns observed into desired.
// Pure: computed from data, printed by `l3afd plan`, run by the executor.

#include "plan/state.h"

#include <optional>
#include <string>
#include <vector>

namespace l3af::plan {

enum class ActionType {
    Load,   // load a revision of a function and pin it
    Attach, // hook a loaded revision to an interface
    Update, // swap the program behind an existing link, atomically
    Detach, // remove a link (or a stale pin of one)
    Unload, // remove a loaded revision's pinned programs and maps
};
const char* toString(ActionType);

struct Action {
    ActionType type;
    std::string kind;
    std::string name;
    std::string revision; // Load/Attach/Update: the target revision; Unload: the one removed
    std::optional<Attachment> attachment;

    bool operator==(const Action&) const = default;
    std::string str() const; // one line, as `l3afd plan` prints it
};

struct Plan {
    std::vector<Action> actions;
    // Desired attachments that wait for their interface to appear.
    std::vector<std::string> pending;

    bool empty() const { return actions.empty(); }
};

// Loads come first, so that every attachment can move to the new revision
// with an atomic update; removals come last.
Plan computePlan(const Desired& desired, const Observed& observed);

} // namespace l3af::plan
