#pragma once

// What the session tests share: a harness that keeps every message a session
// emits, the element ids as numbers, and checks over decoded messages.

#include "decoder.h"
#include "ipfix/session.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>

#include <functional>
#include <map>
#include <vector>

namespace l3af::ipfix::testing {

// Element ids, written out here rather than taken from elements.h so that a
// wrong id in the encoder cannot agree with itself.
enum : uint16_t {
    kOctets = 1,
    kPackets = 2,
    kProtocol = 4,
    kTos = 5,
    kTcpFlags = 6,
    kSrcPort = 7,
    kSrc4 = 8,
    kIngress = 10,
    kDstPort = 11,
    kDst4 = 12,
    kEgress = 14,
    kSrc6 = 27,
    kDst6 = 28,
    kIcmp4 = 32,
    kMinTtl = 52,
    kMaxTtl = 53,
    kVlan = 58,
    kDirection = 61,
    kEndReason = 136,
    kIcmp6 = 139,
    kStartMs = 152,
    kEndMs = 153,
    kExportingProcessId = 144,
    kObservationDomainId = 149,
    kIgnoredPackets = 164,
    kIgnoredOctets = 165,
    kNotSentFlows = 166,
    kNotSentPackets = 167,
    kNotSentOctets = 168,
    kObservationTimeMs = 323,
};

struct Emitted {
    std::vector<uint8_t> bytes;
    uint32_t data_records;
    bool from_add; // emitted by add(): the next flow record did not fit
};

// Owns a session and keeps what it emits.
class Harness {
  public:
    explicit Harness(SessionOptions options)
        : session(options, [this](std::span<const uint8_t> m, uint32_t records) {
              emitted.push_back({{m.begin(), m.end()}, records, adding_});
              if (on_message)
                  on_message();
          }) {}

    void add(const flow::FlowRecord& r) {
        adding_ = true;
        session.add(r);
        adding_ = false;
    }
    void addReliability(const ReliabilityStats& s) { session.addReliability(s); }

    Session session;
    std::vector<Emitted> emitted;
    std::function<void()> on_message;

  private:
    bool adding_ = false;
};

// The observation domain of the flows; the reports go in domain 0.
inline constexpr uint32_t kFlowDomain = 9;

inline SessionOptions udp(size_t max = 1400) {
    return SessionOptions{.observation_domain = kFlowDomain,
                          .exporting_process_id = 3,
                          .max_message_size = max,
                          .template_refresh = std::chrono::seconds(60)};
}

inline SessionOptions tcp() {
    return SessionOptions{.observation_domain = kFlowDomain,
                          .exporting_process_id = 3,
                          .max_message_size = 65535,
                          .template_refresh = std::chrono::milliseconds(0)};
}

inline constexpr uint64_t kT0 = 1700000000000;

// A record whose octet count identifies it.
inline flow::FlowRecord simpleRecord(uint64_t id, uint8_t family = 4) {
    flow::FlowRecord r{};
    r.key.family = family;
    r.key.protocol = 6;
    r.key.ifindex = 2;
    r.key.src[0] = 10;
    r.key.dst[0] = 10;
    r.key.src_port = htons(1000);
    r.key.dst_port = htons(80);
    r.octets = id;
    r.packets = 1;
    r.start_ms = kT0;
    r.end_ms = kT0;
    return r;
}

inline std::vector<uint16_t> templateIds(const DecodedMessage& m) {
    std::vector<uint16_t> ids;
    for (const auto& t : m.templates)
        ids.push_back(t.id);
    return ids;
}

// A flow message that opens with the flow templates, and only those: the
// options templates belong to domain 0.
inline bool startsWithTemplates(const DecodedMessage& m) {
    return !m.set_ids.empty() && m.set_ids[0] == 2 &&
           templateIds(m) == std::vector<uint16_t>{256, 257};
}

// A report (domain 0) that opens with the options templates, and only those.
inline bool startsWithOptionsTemplates(const DecodedMessage& m) {
    return !m.set_ids.empty() && m.set_ids[0] == 3 &&
           templateIds(m) == std::vector<uint16_t>{258, 259};
}

// Checks each message's sequence number against the data records that came
// before it in the same Observation Domain; returns the totals per domain.
inline std::map<uint32_t, uint64_t> expectSequencesPerDomain(const std::vector<Emitted>& emitted) {
    Decoder decoder;
    std::map<uint32_t, uint64_t> before;
    for (size_t i = 0; i < emitted.size(); ++i) {
        auto m = decoder.decode(emitted[i].bytes);
        EXPECT_TRUE(m) << "message " << i << ": " << m.error();
        if (!m)
            continue;
        EXPECT_EQ(m->sequence, static_cast<uint32_t>(before[m->domain])) << "message " << i;
        EXPECT_EQ(m->records.size(), emitted[i].data_records) << "message " << i;
        before[m->domain] += emitted[i].data_records;
    }
    return before;
}

} // namespace l3af::ipfix::testing
