#include "kernel/cls_bpf.h"

#include "kernel/netlink.h"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cstdio>
#include <utility>

namespace l3af::kernel {

namespace {

constexpr char kClsact[] = "clsact";
constexpr char kBpfKind[] = "bpf";
// TCA_BPF_NAME is a NUL-terminated string of at most this size.
constexpr size_t kMaxNameSize = 256;
// Hashed handles live above the ones the kernel picks by itself (1..INT_MAX).
constexpr uint32_t kHandleBit = 0x80000000u;

uint32_t hookParent(bool ingress) {
    return TC_H_MAKE(TC_H_CLSACT, ingress ? TC_H_MIN_INGRESS : TC_H_MIN_EGRESS);
}

// A filter's tcm_info: prio in the upper half, protocol (network order) in
// the lower.
uint32_t filterInfo(uint16_t prio) {
    return TC_H_MAKE(static_cast<uint32_t>(prio) << 16, htons(ETH_P_ALL));
}

std::string hookName(unsigned ifindex, bool ingress) {
    return std::string(ingress ? "ingress" : "egress") + " of ifindex " + std::to_string(ifindex);
}

std::string filterName(uint16_t prio, uint32_t handle) {
    char hex[16];
    std::snprintf(hex, sizeof hex, "%x", handle);
    return "cls_bpf prio " + std::to_string(prio) + " handle 0x" + hex;
}

void putFilterHeader(tcmsg* tcm, unsigned ifindex, bool ingress, uint16_t prio, uint32_t handle) {
    tcm->tcm_family = AF_UNSPEC;
    tcm->tcm_ifindex = static_cast<int>(ifindex);
    tcm->tcm_parent = hookParent(ingress);
    tcm->tcm_handle = handle;
    tcm->tcm_info = filterInfo(prio);
}

// The kind of the qdisc in the ingress slot of ifindex (clsact's or the
// older `ingress` qdisc's, which share it), "" when there is none.
Result<std::string> ingressSlotKind(Netlink& nl, unsigned ifindex) {
    char buf[kNetlinkRequestSize] = {};
    auto [nlh, tcm] = startRequest<tcmsg>(buf, RTM_GETQDISC, NLM_F_REQUEST | NLM_F_DUMP);
    tcm->tcm_family = AF_UNSPEC;
    tcm->tcm_ifindex = static_cast<int>(ifindex);
    std::string kind;
    Status done = nl.request(nlh, [&](const nlmsghdr* h) {
        if (h->nlmsg_type != RTM_NEWQDISC)
            return;
        const auto* q = static_cast<const tcmsg*>(mnl_nlmsg_get_payload(h));
        // The dump covers every device, whatever tcm_ifindex says.
        if (q->tcm_ifindex != static_cast<int>(ifindex) || q->tcm_parent != TC_H_INGRESS)
            return;
        forEachAttr(h, sizeof(tcmsg), [&](const nlattr* attr) {
            if (mnl_attr_get_type(attr) == TCA_KIND &&
                mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
                kind = mnl_attr_get_str(attr);
        });
    });
    if (!done)
        return std::unexpected(done.error().wrap("list qdiscs"));
    return kind;
}

// Filters of a parent qdisc that is not clsact would land elsewhere: an
// `ingress` qdisc takes egress filters into its ingress block.
Status requireClsact(Netlink& nl, unsigned ifindex) {
    Result<std::string> kind = ingressSlotKind(nl, ifindex);
    if (!kind)
        return std::unexpected(kind.error());
    if (kind->empty())
        return fail(ENOENT, "no clsact qdisc");
    if (*kind != kClsact)
        return fail(EBUSY, "an '" + *kind + "' qdisc holds clsact's place");
    return {};
}

struct DumpedFilter {
    ClsBpfFilter filter;
    uint16_t protocol = 0; // host order
};

ClsBpfFilter parseOptions(const nlattr* options) {
    ClsBpfFilter filter;
    forEachNested(options, [&](const nlattr* attr) {
        switch (mnl_attr_get_type(attr)) {
        case TCA_BPF_ID:
            if (mnl_attr_validate(attr, MNL_TYPE_U32) == 0)
                filter.prog_id = mnl_attr_get_u32(attr);
            break;
        case TCA_BPF_NAME:
            if (mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
                filter.name = mnl_attr_get_str(attr);
            break;
        case TCA_BPF_FLAGS:
            if (mnl_attr_validate(attr, MNL_TYPE_U32) == 0)
                filter.direct_action = (mnl_attr_get_u32(attr) & TCA_BPF_FLAG_ACT_DIRECT) != 0;
            break;
        default:
            break;
        }
    });
    return filter;
}

// The dump lists chain 0's filters prio by prio, each prio's in the order
// its classifier runs them: the order packets see.
Result<std::vector<DumpedFilter>> dumpClsBpf(Netlink& nl, unsigned ifindex, bool ingress) {
    char buf[kNetlinkRequestSize] = {};
    auto [nlh, tcm] = startRequest<tcmsg>(buf, RTM_GETTFILTER, NLM_F_REQUEST | NLM_F_DUMP);
    tcm->tcm_family = AF_UNSPEC;
    tcm->tcm_ifindex = static_cast<int>(ifindex);
    tcm->tcm_parent = hookParent(ingress);
    mnl_attr_put_u32(nlh, TCA_CHAIN, 0);

    std::vector<DumpedFilter> filters;
    Status done = nl.request(nlh, [&](const nlmsghdr* h) {
        if (h->nlmsg_type != RTM_NEWTFILTER)
            return;
        const auto* t = static_cast<const tcmsg*>(mnl_nlmsg_get_payload(h));
        // Each prio starts with a message of its own, with handle 0 and no
        // options: the classifier instance, not a filter.
        if (t->tcm_handle == 0)
            return;
        bool isBpf = false;
        const nlattr* options = nullptr;
        forEachAttr(h, sizeof(tcmsg), [&](const nlattr* attr) {
            switch (mnl_attr_get_type(attr)) {
            case TCA_KIND:
                isBpf = mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0 &&
                        std::string(mnl_attr_get_str(attr)) == kBpfKind;
                break;
            case TCA_OPTIONS:
                options = attr;
                break;
            default:
                break;
            }
        });
        if (!isBpf)
            return;
        DumpedFilter dumped;
        if (options)
            dumped.filter = parseOptions(options);
        dumped.filter.prio = static_cast<uint16_t>(TC_H_MAJ(t->tcm_info) >> 16);
        dumped.filter.handle = t->tcm_handle;
        dumped.protocol = ntohs(static_cast<uint16_t>(TC_H_MIN(t->tcm_info)));
        filters.push_back(std::move(dumped));
    });
    if (!done)
        return std::unexpected(done.error().wrap("list filters"));
    return filters;
}

} // namespace

Status ensureClsact(unsigned ifindex) {
    const std::string what = "clsact qdisc on ifindex " + std::to_string(ifindex);
    Result<Netlink> nl = Netlink::open();
    if (!nl)
        return std::unexpected(nl.error().wrap(what));

    char buf[kNetlinkRequestSize] = {};
    // Exclusive: an existing qdisc is never changed, only reported.
    auto [nlh, tcm] = startRequest<tcmsg>(buf, RTM_NEWQDISC,
                                          NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
    tcm->tcm_family = AF_UNSPEC;
    tcm->tcm_ifindex = static_cast<int>(ifindex);
    tcm->tcm_parent = TC_H_CLSACT;
    tcm->tcm_handle = TC_H_MAKE(TC_H_CLSACT, 0);
    mnl_attr_put_strz(nlh, TCA_KIND, kClsact);
    Status created = nl->request(nlh);
    if (created)
        return {};
    if (created.error().code() != EEXIST)
        return std::unexpected(created.error().wrap("create " + what));

    Result<std::string> kind = ingressSlotKind(*nl, ifindex);
    if (!kind)
        return std::unexpected(kind.error().wrap(what));
    if (*kind != kClsact)
        return fail(EBUSY, what + ": an '" + *kind + "' qdisc holds its place");
    return {};
}

Status attachClsBpf(unsigned ifindex, bool ingress, uint16_t prio, uint32_t handle, int prog_fd,
                    const std::string& name, bool replace) {
    const std::string what =
        filterName(prio, handle) + " '" + name + "' on " + hookName(ifindex, ingress);
    if (prio == 0 || handle == 0)
        return fail(EINVAL, what + ": prio and handle must be nonzero");
    if (name.size() >= kMaxNameSize)
        return fail(ENAMETOOLONG, what + ": name longer than the kernel keeps");
    Result<Netlink> nl = Netlink::open();
    if (!nl)
        return std::unexpected(nl.error().wrap(what));
    if (Status clsact = requireClsact(*nl, ifindex); !clsact)
        return std::unexpected(clsact.error().wrap(what));
    // Replace only a filter of the same name: another one at (prio, handle)
    // is someone else's, or another function's whose name hashes alike.
    if (replace) {
        Result<std::vector<DumpedFilter>> present = dumpClsBpf(*nl, ifindex, ingress);
        if (!present)
            return std::unexpected(present.error().wrap(what));
        for (const DumpedFilter& f : *present) {
            if (f.filter.prio == prio && f.filter.handle == handle && f.filter.name != name)
                return fail(EEXIST, what + ": filter '" + f.filter.name + "' holds " +
                                        filterName(prio, handle) + "; not replacing it");
        }
    }

    char buf[kNetlinkRequestSize] = {};
    // Without NLM_F_EXCL the kernel changes the filter at (prio, handle) in
    // place: the new program takes the old one's spot in the list at once.
    const uint16_t flags =
        NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | (replace ? NLM_F_REPLACE : NLM_F_EXCL);
    auto [nlh, tcm] = startRequest<tcmsg>(buf, RTM_NEWTFILTER, flags);
    putFilterHeader(tcm, ifindex, ingress, prio, handle);
    mnl_attr_put_strz(nlh, TCA_KIND, kBpfKind);
    mnl_attr_put_u32(nlh, TCA_CHAIN, 0);
    nlattr* options = mnl_attr_nest_start(nlh, TCA_OPTIONS);
    mnl_attr_put_u32(nlh, TCA_BPF_FD, static_cast<uint32_t>(prog_fd));
    mnl_attr_put_strz(nlh, TCA_BPF_NAME, name.c_str());
    mnl_attr_put_u32(nlh, TCA_BPF_FLAGS, TCA_BPF_FLAG_ACT_DIRECT);
    mnl_attr_nest_end(nlh, options);
    if (Status done = nl->request(nlh); !done)
        return std::unexpected(done.error().wrap(what));
    return {};
}

Status detachClsBpf(unsigned ifindex, bool ingress, uint16_t prio, uint32_t handle) {
    const std::string what =
        "detach " + filterName(prio, handle) + " from " + hookName(ifindex, ingress);
    // The kernel reads prio 0 as "every filter of the hook", handle 0 as
    // "every filter at prio".
    if (prio == 0 || handle == 0)
        return fail(EINVAL, what + ": prio and handle must be nonzero");
    Result<Netlink> nl = Netlink::open();
    if (!nl)
        return std::unexpected(nl.error().wrap(what));
    Result<std::string> kind = ingressSlotKind(*nl, ifindex);
    if (!kind)
        return std::unexpected(kind.error().wrap(what));
    if (*kind != kClsact)
        return {};

    char buf[kNetlinkRequestSize] = {};
    auto [nlh, tcm] = startRequest<tcmsg>(buf, RTM_DELTFILTER, NLM_F_REQUEST | NLM_F_ACK);
    putFilterHeader(tcm, ifindex, ingress, prio, handle);
    mnl_attr_put_strz(nlh, TCA_KIND, kBpfKind);
    mnl_attr_put_u32(nlh, TCA_CHAIN, 0);
    Status done = nl->request(nlh);
    if (done || done.error().code() == ENOENT)
        return {};
    // EINVAL also says "prio holds filters of another kind or protocol": then
    // ours is absent too, which the dump tells apart from a bad request.
    if (done.error().code() == EINVAL) {
        Result<std::vector<DumpedFilter>> filters = dumpClsBpf(*nl, ifindex, ingress);
        if (!filters)
            return std::unexpected(filters.error().wrap(what));
        bool present = false;
        for (const DumpedFilter& f : *filters)
            present |=
                f.filter.prio == prio && f.filter.handle == handle && f.protocol == ETH_P_ALL;
        if (!present)
            return {};
    }
    return std::unexpected(done.error().wrap(what));
}

Result<std::vector<ClsBpfFilter>> listClsBpf(unsigned ifindex, bool ingress) {
    const std::string what = "list cls_bpf filters on " + hookName(ifindex, ingress);
    Result<Netlink> nl = Netlink::open();
    if (!nl)
        return std::unexpected(nl.error().wrap(what));
    Result<std::string> kind = ingressSlotKind(*nl, ifindex);
    if (!kind)
        return std::unexpected(kind.error().wrap(what));
    // An `ingress` qdisc would answer for egress with its ingress filters.
    if (*kind != kClsact)
        return std::vector<ClsBpfFilter>{};
    Result<std::vector<DumpedFilter>> dumped = dumpClsBpf(*nl, ifindex, ingress);
    if (!dumped)
        return std::unexpected(dumped.error().wrap(what));
    std::vector<ClsBpfFilter> filters;
    filters.reserve(dumped->size());
    for (DumpedFilter& d : *dumped)
        filters.push_back(std::move(d.filter));
    return filters;
}

uint32_t clsBpfHandle(const std::string& kind, const std::string& name) {
    // FNV-1a, 32 bits, over "kind\0name": the same on every build and run.
    uint32_t hash = 0x811c9dc5u;
    auto add = [&](unsigned char byte) {
        hash ^= byte;
        hash *= 0x01000193u;
    };
    for (char c : kind)
        add(static_cast<unsigned char>(c));
    add(0);
    for (char c : name)
        add(static_cast<unsigned char>(c));
    return hash | kHandleBit;
}

} // namespace l3af::kernel
