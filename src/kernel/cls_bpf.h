#pragma once

// The legacy TC path, for kernels without TCX (or `tc_mode = "legacy"`):
// direct-action cls_bpf filters on a clsact qdisc, one per function, placed
// by (prio, handle). The kernel runs a hook's filters by prio ascending and,
// within one prio, in the order it lists them (the newest first). A filter's
// program is swapped in place (replace), so that no packet ever finds the
// hook without it. Nothing here touches a filter or qdisc it was not named.

#include "common/error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace l3af::kernel {

struct ClsBpfFilter {
    uint16_t prio = 0;
    uint32_t handle = 0;
    uint32_t prog_id = 0; // 0 for a classic BPF filter (tc's `bpf bytecode`)
    std::string name;     // TCA_BPF_NAME
    bool direct_action = false;
};

// Creates a clsact qdisc on ifindex unless one exists (never replaces or
// changes an existing qdisc). EBUSY when an `ingress` qdisc holds the slot
// clsact would take: it has no egress hook and is not l3afd's to replace.
[[nodiscard]] Status ensureClsact(unsigned ifindex);

// Adds a direct-action cls_bpf filter (protocol ETH_P_ALL, chain 0) at
// (prio, handle) on ingress or egress running prog_fd, named `name`. Both
// prio and handle must be nonzero (the kernel reads 0 as "pick one").
// replace=false: fails with EEXIST if a filter is already at (prio, handle).
// replace=true: swaps the program of the filter at (prio, handle) in place,
// so that no packet sees no filter; adds the filter when there is none.
// Fails with EEXIST when the filter there has another name (a foreign one,
// or a handle collision between two functions): it is not this one's.
// Fails with EINVAL when prio is held by filters of another kind or protocol
// (a `matchall`, a `protocol ip` bpf filter): one prio holds one of each.
[[nodiscard]] Status attachClsBpf(unsigned ifindex, bool ingress, uint16_t prio, uint32_t handle,
                                  int prog_fd, const std::string& name, bool replace);

// Deletes exactly the filter at (prio, handle); its absence (and that of the
// qdisc or of any bpf filter at prio) is not an error.
[[nodiscard]] Status detachClsBpf(unsigned ifindex, bool ingress, uint16_t prio, uint32_t handle);

// Every cls_bpf filter in chain 0 of the hook (ours and foreign), in the
// order the kernel runs them. No clsact qdisc: an empty list.
[[nodiscard]] Result<std::vector<ClsBpfFilter>> listClsBpf(unsigned ifindex, bool ingress);

// A stable handle for a function (kind, name): a hash, so that two l3afd
// functions at one prio don't share a handle (a collision, a 2^-31 chance,
// makes attachClsBpf's replace refuse rather than touch the other). Its top
// bit is always set, which keeps it apart from the handles the kernel picks
// for `tc filter add` without one (1, 2, ...).
uint32_t clsBpfHandle(const std::string& kind, const std::string& name);

} // namespace l3af::kernel
