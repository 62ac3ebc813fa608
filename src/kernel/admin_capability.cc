#include "kernel/admin_capability.h"

#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace l3af::kernel {

namespace {

// The calling thread's capability sets (version 3: two 32-bit words each).
struct CapSets {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
};

constexpr unsigned kWord = CAP_TO_INDEX(CAP_SYS_ADMIN);
constexpr __u32 kBit = CAP_TO_MASK(CAP_SYS_ADMIN);

bool read(CapSets& caps) {
    return ::syscall(SYS_capget, &caps.header, caps.data) == 0;
}

bool write(CapSets& caps) {
    return ::syscall(SYS_capset, &caps.header, caps.data) == 0;
}

} // namespace

void lowerAdminCapability() {
    CapSets caps;
    if (!read(caps) || !(caps.data[kWord].effective & kBit))
        return;
    caps.data[kWord].effective &= ~kBit;
    (void)write(caps);
}

RaisedAdminCapability::RaisedAdminCapability() {
    CapSets caps;
    if (!read(caps) || (caps.data[kWord].effective & kBit) || !(caps.data[kWord].permitted & kBit))
        return;
    caps.data[kWord].effective |= kBit;
    raised_ = write(caps);
}

RaisedAdminCapability::~RaisedAdminCapability() {
    if (raised_)
        lowerAdminCapability();
}

} // namespace l3af::kernel
