#include "ipfix/session.h"

#include "ipfix/wire.h"

#include <algorithm>
#include <cstring>
#include <utility>

namespace l3af::ipfix {

namespace {

// Offsets inside a flow record; see the table in templates.h. The fields
// after the addresses start at 40 (IPv4) or 64 (IPv6) and keep one layout.
constexpr size_t kAddressesOffset = 32;
constexpr size_t kIngressInterface = 0;
constexpr size_t kEgressInterface = 4;
constexpr size_t kSourcePort = 8;
constexpr size_t kDestinationPort = 10;
constexpr size_t kIcmpTypeCode = 12;
constexpr size_t kVlanId = 14;
constexpr size_t kTcpControlBits = 16;
constexpr size_t kProtocol = 18;
constexpr size_t kClassOfService = 19;
constexpr size_t kDirection = 20;
constexpr size_t kEndReason = 21;
constexpr size_t kMinimumTtl = 22;
constexpr size_t kMaximumTtl = 23;
constexpr size_t kTailLength = 24;
static_assert(kAddressesOffset + 2 * 4 + kTailLength == kIPv4FlowRecordLength);
static_assert(kAddressesOffset + 2 * 16 + kTailLength == kIPv6FlowRecordLength);

// 802.1Q: the VLAN identifier is the low 12 bits of the tag control field.
constexpr uint16_t kVlanIdMask = 0x0fff;

} // namespace

Session::Session(SessionOptions options, MessageSink sink)
    : options_(options), sink_(std::move(sink)),
      max_(std::clamp(options.max_message_size, kMinMessageLength, kMaxMessageLength)),
      buffer_(max_) {
    flows_.id = options_.observation_domain;
    if (flows_.id == 0) {
        // One domain: its messages carry flows and reports alike.
        flows_.templates = templateSets();
        reports_ = &flows_;
    } else {
        flows_.templates = flowTemplateSet();
        reports_domain_.id = 0;
        reports_domain_.templates = optionsTemplateSet();
        reports_ = &reports_domain_;
    }
}

void Session::begin(uint64_t now_ms) {
    // Only a message with content: due templates wait for this batch.
    if (open_)
        emit();
    now_ms_ = now_ms;
    export_time_ = static_cast<uint32_t>(now_ms / 1000);
    scheduleRefresh(flows_);
    if (reports_ != &flows_)
        scheduleRefresh(*reports_);
}

void Session::scheduleRefresh(Domain& domain) {
    if (domain.templates_due)
        return;
    const auto refresh = options_.template_refresh.count();
    if (refresh <= 0)
        return;
    // A clock that went back counts as elapsed: better a spare template than
    // a collector that waits for one.
    if (now_ms_ < domain.templates_sent_ms ||
        now_ms_ - domain.templates_sent_ms >= static_cast<uint64_t>(refresh))
        domain.templates_due = true;
}

void Session::add(const flow::FlowRecord& record) {
    const flow_key& key = record.key;
    size_t address_length;
    uint8_t* p;
    bool icmp;
    if (key.family == 4) {
        address_length = 4;
        p = reserve(flows_, kIPv4FlowTemplateId, kIPv4FlowRecordLength);
        icmp = key.protocol == kProtocolIcmp;
    } else if (key.family == 6) {
        address_length = 16;
        p = reserve(flows_, kIPv6FlowTemplateId, kIPv6FlowRecordLength);
        icmp = key.protocol == kProtocolIcmpV6;
    } else {
        ++records_rejected_;
        return;
    }

    wire::put64(p + 0, record.octets);
    wire::put64(p + 8, record.packets);
    wire::put64(p + 16, record.start_ms);
    wire::put64(p + 24, record.end_ms);
    // Addresses and ports are already in network byte order in the key.
    std::memcpy(p + kAddressesOffset, key.src, address_length);
    std::memcpy(p + kAddressesOffset + address_length, key.dst, address_length);

    uint8_t* t = p + kAddressesOffset + 2 * address_length;
    const bool egress = key.direction == FLOW_DIR_EGRESS;
    wire::put32(t + kIngressInterface, egress ? 0 : key.ifindex);
    wire::put32(t + kEgressInterface, egress ? key.ifindex : 0);
    if (icmp) {
        // The key holds the bytes {type, code}: read big-endian, that is
        // type * 256 + code, the value of icmpTypeCodeIPv4/IPv6.
        wire::put16(t + kSourcePort, 0);
        wire::put16(t + kDestinationPort, 0);
        std::memcpy(t + kIcmpTypeCode, &key.dst_port, 2);
    } else {
        std::memcpy(t + kSourcePort, &key.src_port, 2);
        std::memcpy(t + kDestinationPort, &key.dst_port, 2);
        wire::put16(t + kIcmpTypeCode, 0);
    }
    wire::put16(t + kVlanId, key.vlan & kVlanIdMask);
    wire::put16(t + kTcpControlBits, record.tcp_flags);
    wire::put8(t + kProtocol, key.protocol);
    wire::put8(t + kClassOfService, record.tos);
    wire::put8(t + kDirection, egress ? kDirectionEgress : kDirectionIngress);
    wire::put8(t + kEndReason, static_cast<uint8_t>(record.reason));
    wire::put8(t + kMinimumTtl, record.min_ttl);
    wire::put8(t + kMaximumTtl, record.max_ttl);
}

void Session::addReliability(const ReliabilityStats& stats) {
    // In domain 0, reserve() first emits the flow message being built.
    uint8_t* p =
        reserve(*reports_, kExportingReliabilityTemplateId, kExportingReliabilityRecordLength);
    wire::put32(p + 0, options_.exporting_process_id);
    wire::put64(p + 4, stats.not_sent_flows);
    wire::put64(p + 12, stats.not_sent_packets);
    wire::put64(p + 20, stats.not_sent_octets);
    wire::put64(p + 28, stats.first_not_sent_ms);
    wire::put64(p + 36, stats.last_not_sent_ms);

    p = reserve(*reports_, kMeteringReliabilityTemplateId, kMeteringReliabilityRecordLength);
    // The scope is the domain metered, not the one of the message header.
    wire::put32(p + 0, options_.observation_domain);
    wire::put64(p + 4, stats.ignored_packets);
    wire::put64(p + 12, stats.ignored_octets);
    wire::put64(p + 20, stats.first_ignored_ms);
    wire::put64(p + 28, stats.last_ignored_ms);

    // A report in domain 0 is complete: send it now rather than hold a
    // second message open beside the flows' one.
    if (reports_ != &flows_)
        emit();
}

void Session::flush() {
    if (!open_) {
        if (!flows_.templates_due)
            return;
        openMessage(flows_); // a message of templates alone
    }
    emit();
}

uint32_t Session::restart() {
    const uint32_t dropped = open_ ? message_records_ : 0;
    open_ = nullptr;
    used_ = 0;
    set_start_ = 0;
    message_records_ = 0;
    for (Domain* domain : {&flows_, reports_}) {
        domain->sequence = 0;
        domain->templates_due = true;
    }
    return dropped;
}

uint8_t* Session::reserve(Domain& domain, uint16_t set_id, size_t length) {
    // One message belongs to one domain (its header names it).
    if (open_ && open_ != &domain)
        emit();
    if (!open_)
        openMessage(domain);
    const bool same_set = set_start_ != 0 && set_id_ == set_id;
    if (used_ + length + (same_set ? 0 : kSetHeaderLength) > max_) {
        emit();
        // Fits: max_ >= kMinMessageLength leaves room for all the templates,
        // a set header and the largest record.
        openMessage(domain);
    }
    if (set_start_ == 0 || set_id_ != set_id) {
        closeSet();
        set_start_ = used_;
        set_id_ = set_id;
        wire::put16(buffer_.data() + used_, set_id);
        used_ += kSetHeaderLength; // the length is written when the set closes
    }
    uint8_t* at = buffer_.data() + used_;
    used_ += length;
    ++message_records_;
    return at;
}

void Session::openMessage(Domain& domain) {
    open_ = &domain;
    used_ = kMessageHeaderLength;
    set_start_ = 0;
    message_records_ = 0;
    if (domain.templates_due) {
        std::memcpy(buffer_.data() + used_, domain.templates.data(), domain.templates.size());
        used_ += domain.templates.size();
        domain.templates_due = false;
        domain.templates_sent_ms = now_ms_;
    }
}

void Session::closeSet() {
    if (set_start_ == 0)
        return;
    wire::put16(buffer_.data() + set_start_ + 2, static_cast<uint16_t>(used_ - set_start_));
    set_start_ = 0;
}

void Session::emit() {
    closeSet();
    uint8_t* h = buffer_.data();
    const size_t length = used_;
    const uint32_t records = message_records_;
    // Message Header, RFC 7011 section 3.1.
    wire::put16(h + 0, kVersion);
    wire::put16(h + 2, static_cast<uint16_t>(length));
    wire::put32(h + 4, export_time_);
    wire::put32(h + 8, open_->sequence);
    wire::put32(h + 12, open_->id);

    // The state moves on before the sink runs, so a sink that calls restart()
    // (a failed send that opens a new transport session) leaves it consistent.
    open_->sequence += records; // wraps modulo 2^32, as section 3.1 says
    records_emitted_ += records;
    ++messages_emitted_;
    bytes_emitted_ += length;
    open_ = nullptr;
    used_ = 0;
    message_records_ = 0;

    sink_(std::span<const uint8_t>(h, length), records);
}

} // namespace l3af::ipfix
