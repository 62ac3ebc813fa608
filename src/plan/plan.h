#pragma once

// The plan: the ordered list of actions that turns observed into desired.
// Pure: computed from data, printed by `l3afd plan`, run by the executor.

#include "plan/state.h"

#include <optional>
#include <string>
#include <vector>

namespace l3af::plan {

enum class ActionType {
    Load,      // load a revision of a function and pin it
    WriteMaps, // write the map entries the files declare
    Attach,    // hook a loaded revision to an interface, at its place in the chain
    Move,      // re-place an attachment (order, priority or mechanism changed)
    Update,    // swap the program behind an existing attachment, atomically
    Detach,    // remove an attachment (or a stale pin of one)
    Unload,    // remove a loaded revision's pinned programs
};
const char* toString(ActionType);

// Where an attachment goes in its hook's chain. ClsBpf and XDP order by
// priority; TCX is positional, so an attachment goes just before the link of
// the function that follows it (or just after the one before it, for the
// last), and foreign programs keep their places.
struct Placement {
    uint32_t priority = 0;
    std::optional<FunctionId> before;
    std::optional<FunctionId> after;

    bool operator==(const Placement&) const = default;
};

struct Action {
    ActionType type;
    std::string kind;
    std::string name;
    std::string revision; // Load/Attach/Move/Update: the target revision; Unload: the one removed
    std::optional<Attachment> attachment;
    // Attach/Move/Update: how the attachment is made; Detach: how it was found.
    Mechanism mechanism = Mechanism::Tcx;
    Placement placement; // Attach, Move
    // Move/Update/Detach: the attachment as found (ClsBpf filters and XDP
    // components are identified by their priority).
    Mechanism found_mechanism = Mechanism::Tcx;
    uint32_t found_priority = 0;
    std::vector<std::string> maps; // WriteMaps: the maps whose entries differ

    bool operator==(const Action&) const = default;
    std::string str() const; // one line, as `l3afd plan` prints it
};

struct Plan {
    std::vector<Action> actions;
    // Desired attachments that wait for their interface to appear.
    std::vector<std::string> pending;

    bool empty() const { return actions.empty(); }
};

// The action that removes an attachment as it was found.
Action detachAction(const FunctionId& id, const ObservedAttachment& link);

// Loads and map writes come first, so that every attachment can move to the
// new revision with an atomic update and finds its maps filled; then each
// hook's chain is put in priority order; removals come last.
Plan computePlan(const Desired& desired, const Observed& observed);

} // namespace l3af::plan
