#include "kernel/link_events.h"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>

namespace l3af::kernel {

Result<LinkEvents> LinkEvents::open() {
    UniqueFd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE));
    if (!fd)
        return failErrno("open rtnetlink socket");
    sockaddr_nl address{};
    address.nl_family = AF_NETLINK;
    address.nl_groups = RTMGRP_LINK;
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
        return failErrno("subscribe to rtnetlink link events");
    return LinkEvents(std::move(fd));
}

bool LinkEvents::drain() {
    bool changed = false;
    alignas(nlmsghdr) std::array<char, 16384> buf;
    for (;;) {
        const ssize_t n = ::recv(fd_.get(), buf.data(), buf.size(), 0);
        if (n < 0) {
            if (errno == ENOBUFS)
                changed = true;
            else if (errno != EINTR)
                return changed; // EAGAIN: nothing more queued
            continue;
        }
        auto len = static_cast<unsigned>(n);
        for (auto* h = reinterpret_cast<nlmsghdr*>(buf.data()); NLMSG_OK(h, len);
             h = NLMSG_NEXT(h, len)) {
            // RTM_NEWLINK also reports state changes (carrier, flags) of an
            // existing interface; the reconcile that follows is a no-op then.
            if (h->nlmsg_type == RTM_NEWLINK || h->nlmsg_type == RTM_DELLINK)
                changed = true;
        }
    }
}

} // namespace l3af::kernel
