#pragma once

// CAP_SYS_ADMIN, held but not used. The kernel asks for it in one place
// l3afd goes: opening a program or BTF object by id (BPF_PROG_GET_FD_BY_ID,
// BPF_BTF_GET_FD_BY_ID), which libxdp does to read and rebuild an
// interface's XDP dispatcher. The daemon keeps the capability in its
// permitted set only and raises it into the effective set for those calls,
// so that nothing else it does (config parsing, exporting, the D-Bus and
// metrics endpoints) runs with it. Capabilities are per thread: the daemon
// lowers it before it starts any thread, and a raise holds for the thread
// that made it.

namespace l3af::kernel {

// Takes CAP_SYS_ADMIN out of the effective set, keeping it permitted. A
// process without it (or a kernel without capabilities) is left as it is.
void lowerAdminCapability();

// Raises CAP_SYS_ADMIN into the effective set for its lifetime when it is
// permitted but not effective; otherwise does nothing (a process without it
// fails where the kernel asks for it, with EPERM, as it would anyway).
class RaisedAdminCapability {
  public:
    RaisedAdminCapability();
    ~RaisedAdminCapability();
    RaisedAdminCapability(const RaisedAdminCapability&) = delete;
    RaisedAdminCapability& operator=(const RaisedAdminCapability&) = delete;

  private:
    bool raised_ = false;
};

} // namespace l3af::kernel
