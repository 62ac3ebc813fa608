// Records through a session, checked by decoding what it emits with the
// test's own decoder: message size limits, data sets, counters, and every
// field of every flow and reliability record coming back as it was given.

#include "session_harness.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>

#include <cstring>
#include <map>
#include <random>
#include <vector>

namespace l3af::ipfix {
namespace {

using namespace testing;

flow::FlowRecord randomRecord(std::mt19937_64& rng, uint64_t id) {
    flow::FlowRecord r{};
    const uint64_t bits = rng();
    r.key.family = (bits & 1) ? 6 : 4;
    r.key.direction = (bits >> 1) & 1;
    static constexpr uint8_t kProtocols[] = {6, 17, 1, 58, 47};
    r.key.protocol = kProtocols[(bits >> 2) % 5];
    r.key.ifindex = static_cast<uint32_t>(rng());
    r.key.vlan = static_cast<uint16_t>(rng() & 0x0fff);
    r.key.src_port = static_cast<uint16_t>(rng());
    r.key.dst_port = static_cast<uint16_t>(rng());
    const size_t n = r.key.family == 4 ? 4 : 16;
    for (size_t i = 0; i < n; ++i) {
        r.key.src[i] = static_cast<uint8_t>(rng());
        r.key.dst[i] = static_cast<uint8_t>(rng());
    }
    r.octets = id; // unique: identifies the record after decoding
    r.packets = rng();
    r.start_ms = rng() >> 20;
    r.end_ms = r.start_ms + (rng() & 0xffff);
    r.tcp_flags = static_cast<uint8_t>(rng());
    r.min_ttl = static_cast<uint8_t>(rng());
    r.max_ttl = static_cast<uint8_t>(rng());
    r.tos = static_cast<uint8_t>(rng());
    r.reason = static_cast<flow::EndReason>(1 + rng() % 5);
    return r;
}

uint16_t be16(uint16_t network_order) {
    return ntohs(network_order);
}

// What RFC 7011/7012 say the record's fields must read, computed here from
// the flow record without the encoder's help.
void expectRecordMatches(const DecodedRecord& d, const flow::FlowRecord& r) {
    const flow_key& k = r.key;
    const bool v6 = k.family == 6;
    ASSERT_EQ(d.template_id, v6 ? 257 : 256);
    EXPECT_EQ(d.fields.size(), 19u);
    EXPECT_EQ(d.number(kOctets), r.octets);
    EXPECT_EQ(d.number(kPackets), r.packets);
    EXPECT_EQ(d.number(kStartMs), r.start_ms);
    EXPECT_EQ(d.number(kEndMs), r.end_ms);
    const size_t n = v6 ? 16 : 4;
    EXPECT_EQ(d.bytes(v6 ? kSrc6 : kSrc4), std::vector<uint8_t>(k.src, k.src + n));
    EXPECT_EQ(d.bytes(v6 ? kDst6 : kDst4), std::vector<uint8_t>(k.dst, k.dst + n));
    EXPECT_FALSE(d.has(v6 ? kSrc4 : kSrc6));
    const bool egress = k.direction == 1;
    EXPECT_EQ(d.number(kIngress), egress ? 0u : k.ifindex);
    EXPECT_EQ(d.number(kEgress), egress ? k.ifindex : 0u);
    EXPECT_EQ(d.number(kDirection), egress ? 1u : 0u);
    const bool icmp = (!v6 && k.protocol == 1) || (v6 && k.protocol == 58);
    const auto* type_code = reinterpret_cast<const uint8_t*>(&k.dst_port);
    EXPECT_EQ(d.number(kSrcPort), icmp ? 0u : be16(k.src_port));
    EXPECT_EQ(d.number(kDstPort), icmp ? 0u : be16(k.dst_port));
    EXPECT_EQ(d.number(v6 ? kIcmp6 : kIcmp4), icmp ? type_code[0] * 256u + type_code[1] : 0u);
    EXPECT_FALSE(d.has(v6 ? kIcmp4 : kIcmp6));
    EXPECT_EQ(d.number(kVlan), k.vlan & 0x0fffu);
    EXPECT_EQ(d.number(kTcpFlags), r.tcp_flags);
    EXPECT_EQ(d.number(kProtocol), k.protocol);
    EXPECT_EQ(d.number(kTos), r.tos);
    EXPECT_EQ(d.number(kEndReason), static_cast<uint64_t>(r.reason));
    EXPECT_EQ(d.number(kMinTtl), r.min_ttl);
    EXPECT_EQ(d.number(kMaxTtl), r.max_ttl);
}

TEST(SessionTest, ExportTimeIsTheBatchTimeInSeconds) {
    Harness h(udp());
    h.session.begin(kT0 + 999);
    h.add(simpleRecord(1));
    h.session.begin(kT0 + 5000); // emits the first batch with its own time
    h.add(simpleRecord(2));
    h.session.flush();
    ASSERT_EQ(h.emitted.size(), 2u);
    Decoder decoder;
    EXPECT_EQ(decoder.decode(h.emitted[0].bytes)->export_time, kT0 / 1000);
    EXPECT_EQ(decoder.decode(h.emitted[1].bytes)->export_time, kT0 / 1000 + 5);
}

// Thousands of random records at many message sizes: no message is larger
// than allowed, none is cut short while a record would still fit, and every
// record arrives exactly once with every field right.
TEST(SessionTest, RandomRecordsStayWithinMessageSizeAndArriveOnce) {
    for (size_t max : {kMinMessageLength, size_t{333}, size_t{512}, size_t{1400}, size_t{1500},
                       size_t{9000}, size_t{65535}}) {
        SCOPED_TRACE("max_message_size " + std::to_string(max));
        Harness h(udp(max));
        std::mt19937_64 rng(max);
        std::map<uint64_t, flow::FlowRecord> sent;
        uint64_t reliability_sent = 0;
        uint64_t now = kT0;
        for (uint64_t id = 1; id <= 4000; ++id) {
            if (id % 700 == 1) {
                now += 25000; // templates come back every third batch or so
                h.session.begin(now);
            }
            const flow::FlowRecord r = randomRecord(rng, id);
            sent[id] = r;
            h.add(r);
            if (id % 997 == 0) {
                ReliabilityStats s;
                s.not_sent_flows = id;
                h.addReliability(s);
                ++reliability_sent;
            }
        }
        h.session.flush();

        Decoder decoder;
        std::map<uint32_t, uint64_t> before; // per domain
        std::map<uint64_t, int> seen;
        uint64_t reliability_seen = 0;
        for (const Emitted& e : h.emitted) {
            ASSERT_LE(e.bytes.size(), max);
            if (e.from_add) {
                // Emitted because the next record did not fit: not even the
                // largest one (88 bytes, with a set header) would have.
                EXPECT_GT(e.bytes.size() + 4 + 88, max);
            }
            auto m = decoder.decode(e.bytes);
            ASSERT_TRUE(m) << m.error();
            ASSERT_EQ(m->sequence, static_cast<uint32_t>(before[m->domain]));
            ASSERT_EQ(m->records.size(), e.data_records);
            before[m->domain] += e.data_records;
            for (const DecodedRecord& d : m->records) {
                const bool options = d.template_id == 258 || d.template_id == 259;
                ASSERT_EQ(m->domain, options ? 0u : kFlowDomain) << "template " << d.template_id;
                if (d.template_id == 258) {
                    EXPECT_EQ(d.number(kNotSentFlows) % 997, 0u);
                    ++reliability_seen;
                }
                if (options)
                    continue;
                const uint64_t id = d.number(kOctets);
                ASSERT_TRUE(sent.contains(id)) << "record " << id << " never sent";
                ++seen[id];
                expectRecordMatches(d, sent[id]);
            }
        }
        EXPECT_EQ(seen.size(), sent.size());
        for (const auto& [id, count] : seen)
            EXPECT_EQ(count, 1) << "record " << id;
        EXPECT_EQ(reliability_seen, reliability_sent);
        EXPECT_EQ(before[kFlowDomain], sent.size());
        EXPECT_EQ(before[0], 2 * reliability_sent);
        EXPECT_EQ(h.session.recordsEmitted(), sent.size() + 2 * reliability_sent);
    }
}

TEST(SessionTest, FamiliesGoInSeparateDataSets) {
    Harness h(udp());
    h.session.begin(kT0);
    h.session.flush(); // templates alone
    h.add(simpleRecord(1, 4));
    h.add(simpleRecord(2, 4));
    h.add(simpleRecord(3, 6));
    h.add(simpleRecord(4, 4));
    h.session.flush();
    ASSERT_EQ(h.emitted.size(), 2u);
    Decoder decoder;
    ASSERT_TRUE(decoder.decode(h.emitted[0].bytes));
    auto m = decoder.decode(h.emitted[1].bytes);
    ASSERT_TRUE(m) << m.error();
    EXPECT_EQ(m->set_ids, (std::vector<uint16_t>{256, 257, 256}));
    ASSERT_EQ(m->records.size(), 4u);
    for (size_t i = 0; i < 4; ++i)
        EXPECT_EQ(m->records[i].number(kOctets), i + 1);
}

TEST(SessionTest, RoundTripOfEveryKindOfFlow) {
    Harness h(udp());
    std::vector<flow::FlowRecord> records;

    flow::FlowRecord icmp6 = simpleRecord(1, 6);
    icmp6.key.protocol = 58;
    const uint8_t echo[2] = {128, 0};
    std::memcpy(&icmp6.key.dst_port, echo, 2);
    icmp6.key.src_port = 0;
    records.push_back(icmp6);

    flow::FlowRecord egress6 = simpleRecord(2, 6);
    egress6.key.direction = FLOW_DIR_EGRESS;
    egress6.key.ifindex = 77;
    egress6.key.vlan = 12;
    egress6.tcp_flags = 0x12;
    records.push_back(egress6);

    flow::FlowRecord gre = simpleRecord(3, 4);
    gre.key.protocol = 47;
    gre.key.src_port = 0;
    gre.key.dst_port = 0;
    records.push_back(gre);

    flow::FlowRecord udp4 = simpleRecord(4, 4);
    udp4.key.protocol = 17;
    udp4.packets = ~0ull;
    udp4.octets = 4;
    udp4.start_ms = ~0ull;
    records.push_back(udp4);

    // ICMP numbers in the wrong family are not ICMP: ports stay ports.
    flow::FlowRecord odd = simpleRecord(5, 6);
    odd.key.protocol = 1;
    records.push_back(odd);

    h.session.begin(kT0);
    for (const auto& r : records)
        h.add(r);
    h.session.flush();
    ASSERT_EQ(h.emitted.size(), 1u);
    Decoder decoder;
    auto m = decoder.decode(h.emitted[0].bytes);
    ASSERT_TRUE(m) << m.error();
    ASSERT_EQ(m->records.size(), records.size());
    for (size_t i = 0; i < records.size(); ++i) {
        SCOPED_TRACE("record " + std::to_string(i));
        expectRecordMatches(m->records[i], records[i]);
    }
    EXPECT_EQ(m->records[0].number(kIcmp6), 0x8000u);
}

TEST(SessionTest, ReliabilityRecordsRoundTrip) {
    Harness h(udp());
    ReliabilityStats s;
    s.ignored_packets = 1;
    s.ignored_octets = 2;
    s.first_ignored_ms = 3;
    s.last_ignored_ms = 4;
    s.not_sent_flows = 5;
    s.not_sent_packets = 6;
    s.not_sent_octets = 7;
    s.first_not_sent_ms = 8;
    s.last_not_sent_ms = 9;
    h.session.begin(kT0);
    h.addReliability(s);
    Decoder decoder;
    auto m = decoder.decode(h.emitted.at(0).bytes);
    ASSERT_TRUE(m) << m.error();
    EXPECT_EQ(m->domain, 0u) << "statistics no one flow domain owns (RFC 7011 section 3.1)";
    ASSERT_EQ(m->records.size(), 2u);

    const DecodedRecord& exporting = m->records[0];
    EXPECT_EQ(exporting.template_id, 258);
    EXPECT_EQ(exporting.number(kExportingProcessId), 3u);
    EXPECT_EQ(exporting.number(kNotSentFlows), 5u);
    EXPECT_EQ(exporting.number(kNotSentPackets), 6u);
    EXPECT_EQ(exporting.number(kNotSentOctets), 7u);
    EXPECT_EQ(exporting.number(kObservationTimeMs, 0), 8u);
    EXPECT_EQ(exporting.number(kObservationTimeMs, 1), 9u);

    const DecodedRecord& metering = m->records[1];
    EXPECT_EQ(metering.template_id, 259);
    EXPECT_EQ(metering.number(kObservationDomainId), kFlowDomain) << "the domain metered";
    EXPECT_EQ(metering.number(kIgnoredPackets), 1u);
    EXPECT_EQ(metering.number(kIgnoredOctets), 2u);
    EXPECT_EQ(metering.number(kObservationTimeMs, 0), 3u);
    EXPECT_EQ(metering.number(kObservationTimeMs, 1), 4u);

    // The options templates name their scope as RFC 7011 sections 4.2, 4.3 ask.
    for (const auto& t : m->templates) {
        if (t.id == 258) {
            EXPECT_TRUE(t.options);
            EXPECT_EQ(t.scope_fields, 1);
            EXPECT_EQ(t.fields[0].first, kExportingProcessId);
        }
        if (t.id == 259) {
            EXPECT_TRUE(t.options);
            EXPECT_EQ(t.scope_fields, 1);
            EXPECT_EQ(t.fields[0].first, kObservationDomainId);
        }
    }
}

TEST(SessionTest, RecordOfUnknownFamilyIsRejected) {
    Harness h(udp());
    h.session.begin(kT0);
    h.session.flush();
    flow::FlowRecord r = simpleRecord(1);
    r.key.family = 0;
    h.add(r);
    h.session.flush();
    EXPECT_EQ(h.session.recordsRejected(), 1u);
    EXPECT_EQ(h.emitted.size(), 1u) << "only the templates";
    EXPECT_EQ(h.session.recordsEmitted(), 0u);
}

TEST(SessionTest, MessageSizeIsClampedToWhatTheFormatAllows) {
    Harness small(udp(100));
    EXPECT_EQ(small.session.maxMessageSize(), kMinMessageLength);
    Harness large(udp(1 << 20));
    EXPECT_EQ(large.session.maxMessageSize(), 65535u);
}

TEST(SessionTest, CountersAddUpWhatTheSinkReceived) {
    Harness h(udp(700));
    h.session.begin(kT0);
    for (uint64_t i = 1; i <= 40; ++i) {
        h.add(simpleRecord(i, i % 2 ? 4 : 6));
        if (i % 16 == 0)
            h.addReliability({});
    }
    h.session.flush();
    uint64_t bytes = 0;
    uint64_t records = 0;
    for (const Emitted& e : h.emitted) {
        bytes += e.bytes.size();
        records += e.data_records;
    }
    EXPECT_EQ(h.session.bytesEmitted(), bytes);
    EXPECT_EQ(h.session.recordsEmitted(), records);
    EXPECT_EQ(h.session.messagesEmitted(), h.emitted.size());
}

} // namespace
} // namespace l3af::ipfix
