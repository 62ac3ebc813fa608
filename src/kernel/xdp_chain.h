#pragma once

// XDP programs that share an interface through libxdp's multi-program
// dispatcher (xdp-tools' lib/libxdp/protocol.org): each one is a component
// the dispatcher calls in run-priority order (lower first), and other
// libxdp users' components in the same dispatcher (xdp-loader, xdp-filter)
// are carried over by every change. libxdp keeps the dispatcher and its
// components pinned under <bpffs>/xdp (LIBXDP_BPFFS, default /sys/fs/bpf);
// l3afd pins its own components too, to know them again by program id: a
// component keeps its id while others come and go (each change builds a new
// dispatcher, links the same programs to it and swaps it in atomically).
//
// Replacing a component is attachXdp of the new one, then detachXdp of the
// old: libxdp 1.3 swaps once per call, so for a moment both run, in their
// priority order. (Detaching first would leave a moment where neither does.)
//
// A component is an freplace (BPF_PROG_TYPE_EXT) program, so the kernel
// must load those (5.10+; CAP_BPF, CAP_PERFMON). libxdp also opens the
// attached programs and their BTF by id, which takes CAP_SYS_ADMIN (raised
// for these calls only: kernel/admin_capability.h), and
// writes <bpffs>/xdp. Where any of this is missing, attachXdp fails rather
// than let libxdp fall back to a lone program that locks other users out.

#include "common/error.h"

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace l3af::kernel {

struct XdpComponent {
    uint32_t prog_id = 0;  // the program the dispatcher runs (the EXT program)
    uint32_t run_prio = 0; // lower runs earlier
    std::string name;      // function name
};

// The programs on `ifindex` in run order: the components of its libxdp
// dispatcher. A program attached without a dispatcher comes back alone with
// run_prio 0: it is someone else's, and l3afd never touches it. Nothing
// attached: empty.
Result<std::vector<XdpComponent>> listXdp(unsigned ifindex);

// Loads `function` from the ELF `object` as a dispatcher component with
// run priority `priority` and adds it to the dispatcher of `ifindex`
// (creating one when the interface has no XDP program; the components
// already there stay). The object's maps reuse what `map_dir` holds under
// their names when it still fits their definition; the others are created
// and pinned there (replacing a pin that no longer fits), so that their
// contents outlive the program. The component is pinned at `prog_pin`,
// which must not exist yet. Returns its program id.
//
// Changes nothing when it fails: when a program without a dispatcher holds
// the interface, when the kernel cannot load freplace programs, or when the
// verifier refuses the function (the error carries the verifier's log).
Result<uint32_t> attachXdp(unsigned ifindex, const std::filesystem::path& object,
                           const std::string& function, uint32_t priority,
                           const std::filesystem::path& map_dir,
                           const std::filesystem::path& prog_pin);

// Removes the component `prog_id` from the dispatcher of `ifindex` and
// leaves every other one running; the dispatcher goes with its last
// component. Absent (or not a component): nothing to do. The pin made by
// attachXdp is the caller's to remove: it keeps the program loaded.
[[nodiscard]] Status detachXdp(unsigned ifindex, uint32_t prog_id);

} // namespace l3af::kernel
