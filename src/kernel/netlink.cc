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
#include <string_view>
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

namespace {

// An ethtool request T followed by `tail` bytes of its flexible array, in
// storage aligned for the 64-bit members of either.
template <typename T> class EthtoolRequest {
  public:
    explicit EthtoolRequest(size_t tail)
        : storage_((sizeof(T) + tail + sizeof(uint64_t) - 1) / sizeof(uint64_t)) {}
    T* operator->() { return reinterpret_cast<T*>(storage_.data()); }
    T* get() { return reinterpret_cast<T*>(storage_.data()); }

  private:
    std::vector<uint64_t> storage_;
};

// One SIOCETHTOOL on `name`; the ioctl's non-negative result (flags for
// ETHTOOL_SFEATURES).
Result<int> ethtoolIoctl(int fd, const std::string& name, void* request, const std::string& what) {
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
    ifr.ifr_data = static_cast<char*>(request);
    int result = ioctl(fd, SIOCETHTOOL, &ifr);
    if (result < 0)
        return failErrno(what + " of " + name);
    return result;
}

// The names of the device's features, by bit (the ETH_SS_FEATURES strings).
Result<std::vector<std::string>> featureNames(int fd, const std::string& name) {
    EthtoolRequest<ethtool_sset_info> info(sizeof(uint32_t));
    info->cmd = ETHTOOL_GSSET_INFO;
    info->sset_mask = uint64_t{1} << ETH_SS_FEATURES;
    if (auto done = ethtoolIoctl(fd, name, info.get(), "count the features"); !done)
        return std::unexpected(done.error());
    if ((info->sset_mask & (uint64_t{1} << ETH_SS_FEATURES)) == 0)
        return fail(EOPNOTSUPP, "no feature names for " + name);
    const uint32_t count = info->data[0];

    EthtoolRequest<ethtool_gstrings> strings(size_t{count} * ETH_GSTRING_LEN);
    strings->cmd = ETHTOOL_GSTRINGS;
    strings->string_set = ETH_SS_FEATURES;
    strings->len = count;
    if (auto done = ethtoolIoctl(fd, name, strings.get(), "read the feature names"); !done)
        return std::unexpected(done.error());
    std::vector<std::string> names;
    names.reserve(count);
    for (uint32_t i = 0; i < count; ++i) {
        const auto* text =
            reinterpret_cast<const char*>(strings->data + size_t{i} * ETH_GSTRING_LEN);
        names.emplace_back(text, strnlen(text, ETH_GSTRING_LEN));
    }
    return names;
}

// The device's features, 32 per block, as many blocks as the kernel has
// (ETHTOOL_SFEATURES accepts exactly that many and no other count).
Result<std::vector<ethtool_get_features_block>> featureBlocks(int fd, const std::string& name,
                                                              size_t featureCount) {
    const size_t blocks = (featureCount + 31) / 32;
    EthtoolRequest<ethtool_gfeatures> request(blocks * sizeof(ethtool_get_features_block));
    request->cmd = ETHTOOL_GFEATURES;
    request->size = static_cast<uint32_t>(blocks);
    if (auto done = ethtoolIoctl(fd, name, request.get(), "read the features"); !done)
        return std::unexpected(done.error());
    if (request->size != blocks)
        return fail(EPROTO, "features of " + name + ": " + std::to_string(request->size) +
                                " blocks for " + std::to_string(featureCount) + " names");
    return std::vector<ethtool_get_features_block>(request->features, request->features + blocks);
}

bool featureBit(const std::vector<ethtool_get_features_block>& blocks, size_t bit,
                uint32_t ethtool_get_features_block::*mask) {
    return (blocks[bit / 32].*mask & (uint32_t{1} << (bit % 32))) != 0;
}

// Every transmit checksum or segmentation offload, by the kernel's name for
// it: "tx-checksum-ipv4", "tx-tcp-segmentation", "tx-generic-segmentation"
// (GSO), "tx-gso-list", "tx-tcp-accecn-segmentation" and those yet to come.
bool isTxOffload(std::string_view feature) {
    if (!feature.starts_with("tx-"))
        return false;
    return feature.starts_with("tx-checksum") || feature.starts_with("tx-gso") ||
           feature.ends_with("segmentation");
}

} // namespace

Status disableTxOffloads(const std::string& name) {
    UniqueFd fd(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!fd)
        return failErrno("socket for ethtool");
    const std::string what = "turn off transmit offloads on " + name;
    auto names = featureNames(fd.get(), name);
    if (!names)
        return std::unexpected(names.error().wrap(what));
    auto before = featureBlocks(fd.get(), name, names->size());
    if (!before)
        return std::unexpected(before.error().wrap(what));

    // Only the changeable ones ("available"): asking for a fixed one makes the
    // whole request report ETHTOOL_F_UNSUPPORTED. Requested bits stay 0: off.
    EthtoolRequest<ethtool_sfeatures> change(before->size() * sizeof(ethtool_set_features_block));
    change->cmd = ETHTOOL_SFEATURES;
    change->size = static_cast<uint32_t>(before->size());
    for (size_t bit = 0; bit < names->size(); ++bit) {
        if (isTxOffload((*names)[bit]) &&
            featureBit(*before, bit, &ethtool_get_features_block::available))
            change->features[bit / 32].valid |= uint32_t{1} << (bit % 32);
    }
    if (auto done = ethtoolIoctl(fd.get(), name, change.get(), "change the features"); !done)
        return std::unexpected(done.error().wrap(what));

    // The device may refuse a change (ETHTOOL_F_WISH) or have one fixed on:
    // what it transmits would then not be what the encapsulation expects.
    auto after = featureBlocks(fd.get(), name, names->size());
    if (!after)
        return std::unexpected(after.error().wrap(what));
    std::string stillOn;
    for (size_t bit = 0; bit < names->size(); ++bit) {
        if (isTxOffload((*names)[bit]) &&
            featureBit(*after, bit, &ethtool_get_features_block::active))
            stillOn += (stillOn.empty() ? "" : ", ") + (*names)[bit];
    }
    if (!stillOn.empty())
        return fail(EOPNOTSUPP, what + ": still on: " + stillOn);
    return {};
}

} // namespace l3af::kernel
