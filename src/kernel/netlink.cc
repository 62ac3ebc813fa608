#include "kernel/netlink.h"

#include <libmnl/libmnl.h>
#include <linux/ethtool.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>
#include <linux/veth.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cstring>
#include <vector>

namespace l3af::kernel {

namespace {

constexpr size_t kBufferSize = 32768;
constexpr size_t kRequestSize = kNetlinkRequestSize;

// The kernel's own words on a refused request (extended ACK), "" when none.
std::string extAckMessage(const nlmsghdr* h) {
    if ((h->nlmsg_flags & NLM_F_ACK_TLVS) == 0)
        return "";
    const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(h));
    size_t offset = sizeof(nlmsgerr);
    if ((h->nlmsg_flags & NLM_F_CAPPED) == 0)
        offset += err->msg.nlmsg_len - sizeof(nlmsghdr);
    std::string message;
    forEachAttr(h, offset, [&](const nlattr* attr) {
        if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
            mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
            message = mnl_attr_get_str(attr);
    });
    return message;
}

} // namespace

Result<Netlink> Netlink::open() {
    UniqueFd fd(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
    if (!fd)
        return failErrno("rtnetlink socket");
    sockaddr_nl addr{};
    addr.nl_family = AF_NETLINK;
    if (bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
        return failErrno("bind rtnetlink socket");
    int one = 1;
    setsockopt(fd.get(), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
    return Netlink(std::move(fd));
}

template <typename F> Status Netlink::roundTrip(void* request, size_t length, F&& onMessage) {
    auto* nlh = static_cast<nlmsghdr*>(request);
    nlh->nlmsg_seq = seq_++;
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    if (sendto(fd_.get(), request, length, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) <
        0)
        return failErrno("rtnetlink send");
    std::vector<char> buf(kBufferSize);
    for (;;) {
        const ssize_t received = recv(fd_.get(), buf.data(), buf.size(), 0);
        if (received < 0)
            return failErrno("rtnetlink receive");
        int n = static_cast<int>(received);
        for (auto* h = reinterpret_cast<nlmsghdr*>(buf.data()); NLMSG_OK(h, n);
             h = NLMSG_NEXT(h, n)) {
            if (h->nlmsg_seq != nlh->nlmsg_seq)
                continue;
            if (h->nlmsg_type == NLMSG_DONE)
                return {};
            if (h->nlmsg_type == NLMSG_ERROR) {
                const auto* err = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
                if (err->error == 0)
                    return {};
                const std::string why = extAckMessage(h);
                return fail(-err->error, why.empty() ? "rtnetlink" : "rtnetlink: " + why);
            }
            onMessage(h);
        }
    }
}

Status Netlink::request(nlmsghdr* request, const std::function<void(const nlmsghdr*)>& onMessage) {
    return roundTrip(request, request->nlmsg_len, [&](const nlmsghdr* h) {
        if (onMessage)
            onMessage(h);
    });
}

Result<std::vector<LinkInfo>> Netlink::links() {
    char buf[kRequestSize] = {};
    auto [nlh, ifm] = startRequest<ifinfomsg>(buf, RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP);
    ifm->ifi_family = AF_UNSPEC;

    std::vector<LinkInfo> links;
    Status done = roundTrip(nlh, nlh->nlmsg_len, [&](const nlmsghdr* h) {
        if (h->nlmsg_type != RTM_NEWLINK)
            return;
        const auto* info = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(h));
        LinkInfo link;
        link.ifindex = static_cast<uint32_t>(info->ifi_index);
        link.up = (info->ifi_flags & IFF_UP) != 0;
        forEachAttr(h, sizeof(ifinfomsg), [&](const nlattr* attr) {
            switch (mnl_attr_get_type(attr)) {
            case IFLA_IFNAME:
                link.name = mnl_attr_get_str(attr);
                break;
            case IFLA_IFALIAS:
                link.alias = mnl_attr_get_str(attr);
                break;
            case IFLA_LINKINFO:
                forEachNested(attr, [&](const nlattr* nested) {
                    if (mnl_attr_get_type(nested) == IFLA_INFO_KIND)
                        link.kind = mnl_attr_get_str(nested);
                });
                break;
            default:
                break;
            }
        });
        links.push_back(std::move(link));
    });
    if (!done)
        return std::unexpected(done.error().wrap("list links"));
    return links;
}

Result<std::optional<uint32_t>> Netlink::firstIpv4Address(uint32_t ifindex) {
    char buf[kRequestSize] = {};
    auto [nlh, ifa] = startRequest<ifaddrmsg>(buf, RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP);
    ifa->ifa_family = AF_INET;

    std::optional<uint32_t> address;
    Status done = roundTrip(nlh, nlh->nlmsg_len, [&](const nlmsghdr* h) {
        if (h->nlmsg_type != RTM_NEWADDR || address)
            return;
        const auto* msg = static_cast<const ifaddrmsg*>(mnl_nlmsg_get_payload(h));
        if (msg->ifa_index != ifindex)
            return;
        forEachAttr(h, sizeof(ifaddrmsg), [&](const nlattr* attr) {
            const uint16_t type = mnl_attr_get_type(attr);
            if (!address && (type == IFA_LOCAL || type == IFA_ADDRESS))
                address = mnl_attr_get_u32(attr);
        });
    });
    if (!done)
        return std::unexpected(done.error().wrap("list addresses"));
    return address;
}

Status Netlink::createVethPair(const std::string& name, const std::string& peer,
                               const std::string& alias, uint32_t mtu) {
    char buf[kRequestSize] = {};
    // Created down: a veth end cannot come up before its peer exists.
    auto [nlh, ifm] = startRequest<ifinfomsg>(
        buf, RTM_NEWLINK, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK);
    ifm->ifi_family = AF_UNSPEC;
    mnl_attr_put_strz(nlh, IFLA_IFNAME, name.c_str());
    nlattr* linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
    mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
    nlattr* data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
    nlattr* peerInfo = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
    auto* peerIfm = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
    peerIfm->ifi_family = AF_UNSPEC;
    mnl_attr_put_strz(nlh, IFLA_IFNAME, peer.c_str());
    mnl_attr_nest_end(nlh, peerInfo);
    mnl_attr_nest_end(nlh, data);
    mnl_attr_nest_end(nlh, linkinfo);
    if (Status done = roundTrip(nlh, nlh->nlmsg_len, [](const nlmsghdr*) {}); !done)
        return std::unexpected(done.error().wrap("create veth pair " + name + "/" + peer));
    // The alias is not applied at creation, only by a change of the link.
    if (Status up = setUp(peer, alias, mtu); !up)
        return up;
    return setUp(name, alias, mtu);
}

Status Netlink::setUp(const std::string& name, const std::string& alias, uint32_t mtu) {
    char buf[kRequestSize] = {};
    auto [nlh, ifm] = startRequest<ifinfomsg>(buf, RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK);
    ifm->ifi_family = AF_UNSPEC;
    ifm->ifi_flags = IFF_UP;
    ifm->ifi_change = IFF_UP;
    mnl_attr_put_strz(nlh, IFLA_IFNAME, name.c_str());
    mnl_attr_put_strz(nlh, IFLA_IFALIAS, alias.c_str());
    if (mtu != 0)
        mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
    // No IPv6 link-local address, hence no router solicitations or neighbour
    // discovery of the link's own (works where /proc/sys is read-only).
    nlattr* afSpec = mnl_attr_nest_start(nlh, IFLA_AF_SPEC);
    nlattr* inet6 = mnl_attr_nest_start(nlh, AF_INET6);
    mnl_attr_put_u8(nlh, IFLA_INET6_ADDR_GEN_MODE, IN6_ADDR_GEN_MODE_NONE);
    mnl_attr_nest_end(nlh, inet6);
    mnl_attr_nest_end(nlh, afSpec);
    if (Status done = roundTrip(nlh, nlh->nlmsg_len, [](const nlmsghdr*) {}); !done)
        return std::unexpected(done.error().wrap("set " + name + " up"));
    return {};
}

Status Netlink::deleteLink(const std::string& name) {
    char buf[kRequestSize] = {};
    auto [nlh, ifm] = startRequest<ifinfomsg>(buf, RTM_DELLINK, NLM_F_REQUEST | NLM_F_ACK);
    ifm->ifi_family = AF_UNSPEC;
    mnl_attr_put_strz(nlh, IFLA_IFNAME, name.c_str());
    Status done = roundTrip(nlh, nlh->nlmsg_len, [](const nlmsghdr*) {});
    if (!done && done.error().code() != ENODEV)
        return std::unexpected(done.error().wrap("delete " + name));
    return {};
}

Status disableTxOffloads(const std::string& name) {
    UniqueFd fd(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!fd)
        return failErrno("socket for ethtool");
    // Checksum offload, then segmentation (TSO, and GSO so the stack
    // segments before the device rather than never).
    for (uint32_t cmd : {ETHTOOL_STXCSUM, ETHTOOL_STSO, ETHTOOL_SGSO}) {
        ethtool_value value{};
        value.cmd = cmd;
        value.data = 0;
        ifreq ifr{};
        std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
        ifr.ifr_data = reinterpret_cast<char*>(&value);
        if (ioctl(fd.get(), SIOCETHTOOL, &ifr) != 0)
            return failErrno("turn off transmit offloads on " + name);
    }
    return {};
}

} // namespace l3af::kernel
