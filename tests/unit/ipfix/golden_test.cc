// Byte-exact vectors, worked out by hand from RFC 7011 (message, set and
// template formats, sections 3.1 to 3.4) and the IANA element registry. Every
// number on the wire is big-endian. The session under test uses observation
// domain 7 and exporting process 42, and begins at 1700000002000 ms, so every
// Message Header carries Export Time 1700000002 s = 0x6553f102. Flow records
// travel in domain 7, reliability reports in domain 0 (section 3.1), each
// domain with its own sequence number and its own templates.

#include "ipfix/session.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace l3af::ipfix {
namespace {

using Bytes = std::vector<uint8_t>;

// "00 0a ff // comment" -> {0x00, 0x0a, 0xff}: bytes as pairs of hex digits
// separated by spaces; "//" starts a comment that runs to the end of the line.
Bytes hex(std::string_view text) {
    Bytes out;
    while (!text.empty()) {
        const size_t eol = std::min(text.find('\n'), text.size());
        std::string_view line = text.substr(0, eol);
        text.remove_prefix(std::min(eol + 1, text.size()));
        line = line.substr(0, line.find("//"));
        std::string digits;
        for (char c : line) {
            if (c == ' ')
                continue;
            if (!std::isxdigit(static_cast<unsigned char>(c)) || std::isupper(c)) {
                ADD_FAILURE() << "not a lowercase hex digit in vector: '" << c << "'";
                return out;
            }
            digits += c;
        }
        EXPECT_EQ(digits.size() % 2, 0u) << "odd number of hex digits in: " << line;
        for (size_t i = 0; i + 1 < digits.size(); i += 2)
            out.push_back(static_cast<uint8_t>(std::stoi(digits.substr(i, 2), nullptr, 16)));
    }
    return out;
}

Bytes concat(std::initializer_list<Bytes> parts) {
    Bytes out;
    for (const Bytes& p : parts)
        out.insert(out.end(), p.begin(), p.end());
    return out;
}

// Hex text, 16 bytes a line, so a failing comparison shows where it differs.
std::string dump(const Bytes& bytes) {
    std::string out;
    char buf[4];
    for (size_t i = 0; i < bytes.size(); ++i) {
        std::snprintf(buf, sizeof buf, "%02x", bytes[i]);
        out += buf;
        out += (i % 16 == 15) ? '\n' : ' ';
    }
    return out;
}

constexpr uint64_t kNowMs = 1700000002000;

// Message Header: Version 10, Length, Export Time, Sequence Number,
// Observation Domain ID; the one of flow messages unless told otherwise.
Bytes header(uint16_t length, uint8_t sequence = 0, uint8_t domain = 7) {
    Bytes h = hex("00 0a  00 00  65 53 f1 02  00 00 00 00  00 00 00 00");
    h[2] = static_cast<uint8_t>(length >> 8);
    h[3] = static_cast<uint8_t>(length);
    h[11] = sequence;
    h[15] = domain;
    return h;
}

// Template Set: Set ID 2, Length 4 + 80 + 80 = 164.
const Bytes kTemplateSetHeader = hex("00 02  00 a4");

// Template Record 256, 19 fields (80 bytes).
const Bytes kIPv4Template = hex(R"(
    01 00  00 13   // template id 256, field count 19
    00 01  00 08   // octetDeltaCount
    00 02  00 08   // packetDeltaCount
    00 98  00 08   // flowStartMilliseconds (152)
    00 99  00 08   // flowEndMilliseconds (153)
    00 08  00 04   // sourceIPv4Address
    00 0c  00 04   // destinationIPv4Address (12)
    00 0a  00 04   // ingressInterface (10)
    00 0e  00 04   // egressInterface (14)
    00 07  00 02   // sourceTransportPort
    00 0b  00 02   // destinationTransportPort (11)
    00 20  00 02   // icmpTypeCodeIPv4 (32)
    00 3a  00 02   // vlanId (58)
    00 06  00 02   // tcpControlBits, unsigned16 (RFC 7125)
    00 04  00 01   // protocolIdentifier
    00 05  00 01   // ipClassOfService
    00 3d  00 01   // flowDirection (61)
    00 88  00 01   // flowEndReason (136)
    00 34  00 01   // minimumTTL (52)
    00 35  00 01   // maximumTTL (53)
)");

// Template Record 257: as 256 with IPv6 addresses and icmpTypeCodeIPv6.
const Bytes kIPv6Template = hex(R"(
    01 01  00 13   // template id 257, field count 19
    00 01  00 08   // octetDeltaCount
    00 02  00 08   // packetDeltaCount
    00 98  00 08   // flowStartMilliseconds
    00 99  00 08   // flowEndMilliseconds
    00 1b  00 10   // sourceIPv6Address (27), 16 bytes
    00 1c  00 10   // destinationIPv6Address (28)
    00 0a  00 04   // ingressInterface
    00 0e  00 04   // egressInterface
    00 07  00 02   // sourceTransportPort
    00 0b  00 02   // destinationTransportPort
    00 8b  00 02   // icmpTypeCodeIPv6 (139)
    00 3a  00 02   // vlanId
    00 06  00 02   // tcpControlBits
    00 04  00 01   // protocolIdentifier
    00 05  00 01   // ipClassOfService
    00 3d  00 01   // flowDirection
    00 88  00 01   // flowEndReason
    00 34  00 01   // minimumTTL
    00 35  00 01   // maximumTTL
)");

// Options Template Set: Set ID 3, Length 4 + 30 + 26 = 60.
const Bytes kOptionsSetHeader = hex("00 03  00 3c");

// RFC 7011 section 4.3, The Exporting Process Reliability Statistics.
const Bytes kExportingTemplate = hex(R"(
    01 02  00 06  00 01   // template id 258, field count 6, scope field count 1
    00 90  00 04          // scope: exportingProcessId (144)
    00 a6  00 08          // notSentFlowTotalCount (166)
    00 a7  00 08          // notSentPacketTotalCount (167)
    00 a8  00 08          // notSentOctetTotalCount (168)
    01 43  00 08          // observationTimeMilliseconds (323): first flow dropped
    01 43  00 08          // observationTimeMilliseconds: last flow dropped
)");

// RFC 7011 section 4.2, The Metering Process Reliability Statistics.
const Bytes kMeteringTemplate = hex(R"(
    01 03  00 05  00 01   // template id 259, field count 5, scope field count 1
    00 95  00 04          // scope: observationDomainId (149)
    00 a4  00 08          // ignoredPacketTotalCount (164)
    00 a5  00 08          // ignoredOctetTotalCount (165)
    01 43  00 08          // observationTimeMilliseconds: first packet ignored
    01 43  00 08          // observationTimeMilliseconds: last packet ignored
)");

class GoldenTest : public ::testing::Test {
  protected:
    GoldenTest()
        : session_(SessionOptions{.observation_domain = 7,
                                  .exporting_process_id = 42,
                                  .max_message_size = 1400,
                                  .template_refresh = std::chrono::seconds(60)},
                   [this](std::span<const uint8_t> m, uint32_t records) {
                       messages_.emplace_back(m.begin(), m.end());
                       records_.push_back(records);
                   }) {}

    // The message that carries `record` alone, after the templates' message.
    Bytes encodeAlone(const flow::FlowRecord& record) {
        session_.begin(kNowMs);
        session_.flush(); // the templates, due at the session's start
        session_.add(record);
        session_.flush();
        EXPECT_EQ(messages_.size(), 2u);
        EXPECT_EQ(records_.back(), 1u);
        return messages_.empty() ? Bytes{} : messages_.back();
    }

    Session session_;
    std::vector<Bytes> messages_;
    std::vector<uint32_t> records_;
};

flow::FlowRecord ipv4Record() {
    flow::FlowRecord r{};
    r.key.ifindex = 3;
    r.key.direction = FLOW_DIR_INGRESS;
    r.key.family = 4;
    r.key.protocol = 6;
    const uint8_t src[4] = {192, 0, 2, 10};
    const uint8_t dst[4] = {198, 51, 100, 20};
    std::memcpy(r.key.src, src, 4);
    std::memcpy(r.key.dst, dst, 4);
    r.key.src_port = htons(49152);
    r.key.dst_port = htons(443);
    r.packets = 10;
    r.octets = 5000;
    r.start_ms = 1700000000000;
    r.end_ms = 1700000001500;
    r.tcp_flags = 0x1b; // FIN SYN PSH ACK
    r.min_ttl = 63;
    r.max_ttl = 64;
    r.tos = 0x28; // DSCP AF11
    r.reason = flow::EndReason::EndOfFlow;
    return r;
}

// The flow templates open domain 7; the options templates belong to domain 0
// and wait for its first report.
TEST_F(GoldenTest, FlowTemplatesOpenTheSession) {
    session_.begin(kNowMs);
    session_.flush();
    ASSERT_EQ(messages_.size(), 1u);
    EXPECT_EQ(records_[0], 0u) << "template records are not data records";
    const Bytes expected =
        concat({header(16 + 164), kTemplateSetHeader, kIPv4Template, kIPv6Template});
    EXPECT_EQ(dump(messages_[0]), dump(expected));
}

// ipv4Record() in Data Set 256.
const Bytes kIPv4TcpRecordData = hex(R"(
    00 00 00 00 00 00 13 88   // octetDeltaCount 5000
    00 00 00 00 00 00 00 0a   // packetDeltaCount 10
    00 00 01 8b cf e5 68 00   // flowStartMilliseconds 1700000000000
    00 00 01 8b cf e5 6d dc   // flowEndMilliseconds 1700000001500
    c0 00 02 0a               // sourceIPv4Address 192.0.2.10
    c6 33 64 14               // destinationIPv4Address 198.51.100.20
    00 00 00 03               // ingressInterface 3
    00 00 00 00               // egressInterface 0
    c0 00                     // sourceTransportPort 49152
    01 bb                     // destinationTransportPort 443
    00 00                     // icmpTypeCodeIPv4 0
    00 00                     // vlanId 0
    00 1b                     // tcpControlBits FIN SYN PSH ACK
    06                        // protocolIdentifier TCP
    28                        // ipClassOfService
    00                        // flowDirection ingress
    03                        // flowEndReason end of flow detected
    3f                        // minimumTTL 63
    40                        // maximumTTL 64
)");

TEST_F(GoldenTest, IPv4TcpRecord) {
    const Bytes expected = concat({
        header(16 + 4 + 64),
        hex("01 00  00 44"), // Data Set 256, length 4 + 64
        kIPv4TcpRecordData,
    });
    EXPECT_EQ(dump(encodeAlone(ipv4Record())), dump(expected));
}

TEST_F(GoldenTest, IPv6UdpRecord) {
    flow::FlowRecord r{};
    r.key.ifindex = 7;
    r.key.direction = FLOW_DIR_INGRESS;
    r.key.family = 6;
    r.key.protocol = 17;
    const uint8_t src[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01};
    const uint8_t dst[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02};
    std::memcpy(r.key.src, src, 16);
    std::memcpy(r.key.dst, dst, 16);
    r.key.src_port = htons(53000);
    r.key.dst_port = htons(53);
    r.packets = 2;
    r.octets = 180;
    r.start_ms = 1700000000500;
    r.end_ms = 1700000001000;
    r.min_ttl = 64;
    r.max_ttl = 64;
    r.reason = flow::EndReason::IdleTimeout;

    const Bytes expected = concat({
        header(16 + 4 + 88),
        hex("01 01  00 5c"), // Data Set 257, length 4 + 88
        hex(R"(
            00 00 00 00 00 00 00 b4   // octetDeltaCount 180
            00 00 00 00 00 00 00 02   // packetDeltaCount 2
            00 00 01 8b cf e5 69 f4   // flowStartMilliseconds 1700000000500
            00 00 01 8b cf e5 6b e8   // flowEndMilliseconds 1700000001000
            20 01 0d b8 00 00 00 00
            00 00 00 00 00 00 00 01   // sourceIPv6Address 2001:db8::1
            20 01 0d b8 00 00 00 00
            00 00 00 00 00 00 00 02   // destinationIPv6Address 2001:db8::2
            00 00 00 07               // ingressInterface 7
            00 00 00 00               // egressInterface 0
            cf 08                     // sourceTransportPort 53000
            00 35                     // destinationTransportPort 53
            00 00                     // icmpTypeCodeIPv6 0
            00 00                     // vlanId 0
            00 00                     // tcpControlBits none
            11                        // protocolIdentifier UDP
            00                        // ipClassOfService
            00                        // flowDirection ingress
            01                        // flowEndReason idle timeout
            40                        // minimumTTL 64
            40                        // maximumTTL 64
        )"),
    });
    EXPECT_EQ(dump(encodeAlone(r)), dump(expected));
}

TEST_F(GoldenTest, IcmpRecordCarriesTypeCodeAndNoPorts) {
    flow::FlowRecord r = ipv4Record();
    r.key.protocol = 1;
    const uint8_t type_code[2] = {3, 1}; // destination unreachable, host unreachable
    std::memcpy(&r.key.dst_port, type_code, 2);
    r.key.src_port = 0;
    r.packets = 1;
    r.octets = 56;
    r.end_ms = r.start_ms;
    r.tcp_flags = 0;
    r.tos = 0;
    r.min_ttl = r.max_ttl = 255;
    r.reason = flow::EndReason::IdleTimeout;

    const Bytes expected = concat({
        header(16 + 4 + 64),
        hex("01 00  00 44"),
        hex(R"(
            00 00 00 00 00 00 00 38   // octetDeltaCount 56
            00 00 00 00 00 00 00 01   // packetDeltaCount 1
            00 00 01 8b cf e5 68 00   // flowStartMilliseconds
            00 00 01 8b cf e5 68 00   // flowEndMilliseconds
            c0 00 02 0a               // sourceIPv4Address
            c6 33 64 14               // destinationIPv4Address
            00 00 00 03               // ingressInterface 3
            00 00 00 00               // egressInterface 0
            00 00                     // sourceTransportPort 0
            00 00                     // destinationTransportPort 0
            03 01                     // icmpTypeCodeIPv4: type 3 * 256 + code 1
            00 00                     // vlanId
            00 00                     // tcpControlBits
            01                        // protocolIdentifier ICMP
            00                        // ipClassOfService
            00                        // flowDirection ingress
            01                        // flowEndReason idle timeout
            ff                        // minimumTTL
            ff                        // maximumTTL
        )"),
    });
    EXPECT_EQ(dump(encodeAlone(r)), dump(expected));
}

TEST_F(GoldenTest, EgressRecordNamesTheEgressInterface) {
    flow::FlowRecord r = ipv4Record();
    r.key.direction = FLOW_DIR_EGRESS;
    r.key.ifindex = 0x01020305;
    r.reason = flow::EndReason::ActiveTimeout;

    const Bytes expected = concat({
        header(16 + 4 + 64),
        hex("01 00  00 44"),
        hex(R"(
            00 00 00 00 00 00 13 88   // octetDeltaCount
            00 00 00 00 00 00 00 0a   // packetDeltaCount
            00 00 01 8b cf e5 68 00   // flowStartMilliseconds
            00 00 01 8b cf e5 6d dc   // flowEndMilliseconds
            c0 00 02 0a               // sourceIPv4Address
            c6 33 64 14               // destinationIPv4Address
            00 00 00 00               // ingressInterface 0
            01 02 03 05               // egressInterface 0x01020305
            c0 00                     // sourceTransportPort
            01 bb                     // destinationTransportPort
            00 00                     // icmpTypeCodeIPv4
            00 00                     // vlanId
            00 1b                     // tcpControlBits
            06                        // protocolIdentifier
            28                        // ipClassOfService
            01                        // flowDirection egress
            02                        // flowEndReason active timeout
            3f                        // minimumTTL
            40                        // maximumTTL
        )"),
    });
    EXPECT_EQ(dump(encodeAlone(r)), dump(expected));
}

TEST_F(GoldenTest, VlanTaggedRecord) {
    flow::FlowRecord r = ipv4Record();
    r.key.vlan = 4094;
    r.reason = flow::EndReason::ForcedEnd;

    const Bytes expected = concat({
        header(16 + 4 + 64),
        hex("01 00  00 44"),
        hex(R"(
            00 00 00 00 00 00 13 88   // octetDeltaCount
            00 00 00 00 00 00 00 0a   // packetDeltaCount
            00 00 01 8b cf e5 68 00   // flowStartMilliseconds
            00 00 01 8b cf e5 6d dc   // flowEndMilliseconds
            c0 00 02 0a               // sourceIPv4Address
            c6 33 64 14               // destinationIPv4Address
            00 00 00 03               // ingressInterface
            00 00 00 00               // egressInterface
            c0 00                     // sourceTransportPort
            01 bb                     // destinationTransportPort
            00 00                     // icmpTypeCodeIPv4
            0f fe                     // vlanId 4094
            00 1b                     // tcpControlBits
            06                        // protocolIdentifier
            28                        // ipClassOfService
            00                        // flowDirection
            04                        // flowEndReason forced end
            3f                        // minimumTTL
            40                        // maximumTTL
        )"),
    });
    EXPECT_EQ(dump(encodeAlone(r)), dump(expected));
}

ReliabilityStats sampleStats() {
    ReliabilityStats stats;
    stats.not_sent_flows = 7;
    stats.not_sent_packets = 70;
    stats.not_sent_octets = 7000;
    stats.first_not_sent_ms = 1700000000000;
    stats.last_not_sent_ms = 1700000001500;
    stats.ignored_packets = 3;
    stats.ignored_octets = 180;
    stats.first_ignored_ms = 1700000000500;
    stats.last_ignored_ms = 1700000001000;
    return stats;
}

// The exporting record of sampleStats(), exporting process 42.
const Bytes kExportingDataSet = hex(R"(
    01 02  00 30              // Data Set 258, length 4 + 44
    00 00 00 2a               // exportingProcessId 42
    00 00 00 00 00 00 00 07   // notSentFlowTotalCount 7
    00 00 00 00 00 00 00 46   // notSentPacketTotalCount 70
    00 00 00 00 00 00 1b 58   // notSentOctetTotalCount 7000
    00 00 01 8b cf e5 68 00   // observationTimeMilliseconds first 1700000000000
    00 00 01 8b cf e5 6d dc   // observationTimeMilliseconds last 1700000001500
)");

// The metering record of sampleStats(); its scope is the domain metered.
Bytes meteringDataSet(uint8_t metered_domain) {
    Bytes set = hex(R"(
        01 03  00 28              // Data Set 259, length 4 + 36
        00 00 00 00               // observationDomainId, set below
        00 00 00 00 00 00 00 03   // ignoredPacketTotalCount 3
        00 00 00 00 00 00 00 b4   // ignoredOctetTotalCount 180
        00 00 01 8b cf e5 69 f4   // observationTimeMilliseconds first 1700000000500
        00 00 01 8b cf e5 6b e8   // observationTimeMilliseconds last 1700000001000
    )");
    set[7] = metered_domain;
    return set;
}

const Bytes kReliabilityDataSets = concat({kExportingDataSet, meteringDataSet(7)});

// A report is a message of domain 0 of its own: the first one opens with the
// options templates, and domain 0 counts its own sequence, 2 per report.
TEST_F(GoldenTest, ReliabilityReportsGoInDomainZero) {
    session_.begin(kNowMs);
    session_.flush(); // domain 7: flow templates
    session_.addReliability(sampleStats());
    session_.addReliability(sampleStats());
    session_.flush(); // nothing pending: the reports went at once
    ASSERT_EQ(messages_.size(), 3u);
    EXPECT_EQ(records_[1], 2u) << "options data records are data records";
    EXPECT_EQ(records_[2], 2u);

    const Bytes first = concat({
        header(16 + 60 + 48 + 40, /*sequence=*/0, /*domain=*/0),
        kOptionsSetHeader,
        kExportingTemplate,
        kMeteringTemplate,
        kReliabilityDataSets,
    });
    EXPECT_EQ(dump(messages_[1]), dump(first));
    const Bytes second =
        concat({header(16 + 48 + 40, /*sequence=*/2, /*domain=*/0), kReliabilityDataSets});
    EXPECT_EQ(dump(messages_[2]), dump(second));
    EXPECT_EQ(session_.sequenceNumber(), 0u) << "domain 7 counts flow records only";
    EXPECT_EQ(session_.reportSequenceNumber(), 4u);
}

// A report emits the flow message being built first; the flows around it
// count in domain 7 alone.
TEST_F(GoldenTest, ReportBetweenFlowMessages) {
    session_.begin(kNowMs);
    session_.add(ipv4Record());
    session_.addReliability(sampleStats());
    session_.add(ipv4Record());
    session_.flush();
    ASSERT_EQ(messages_.size(), 3u);
    EXPECT_EQ(records_, (std::vector<uint32_t>{1, 2, 1}));
    EXPECT_EQ(dump(messages_[0]),
              dump(concat({header(16 + 164 + 4 + 64), kTemplateSetHeader, kIPv4Template,
                           kIPv6Template, hex("01 00  00 44"), kIPv4TcpRecordData})));
    EXPECT_EQ(dump(messages_[1]),
              dump(concat({header(16 + 60 + 48 + 40, 0, 0), kOptionsSetHeader, kExportingTemplate,
                           kMeteringTemplate, kReliabilityDataSets})));
    EXPECT_EQ(dump(messages_[2]), dump(concat({header(16 + 4 + 64, /*sequence=*/1),
                                               hex("01 00  00 44"), kIPv4TcpRecordData})));
}

// Observation domain 0 configured: one domain, one sequence, one template
// block, and the reports share the flows' messages as RFC 7011 allows.
TEST(GoldenSingleDomainTest, DomainZeroCarriesFlowsAndReportsTogether) {
    std::vector<Bytes> messages;
    std::vector<uint32_t> records;
    Session session(SessionOptions{.observation_domain = 0,
                                   .exporting_process_id = 42,
                                   .max_message_size = 1400,
                                   .template_refresh = std::chrono::seconds(60)},
                    [&](std::span<const uint8_t> m, uint32_t n) {
                        messages.emplace_back(m.begin(), m.end());
                        records.push_back(n);
                    });
    session.begin(kNowMs);
    session.addReliability(sampleStats());
    session.flush();
    session.addReliability(sampleStats());
    session.flush();
    ASSERT_EQ(messages.size(), 2u);
    EXPECT_EQ(records, (std::vector<uint32_t>{2, 2}));

    // The metering record's scope is the configured domain, 0 here.
    const Bytes data_sets = concat({kExportingDataSet, meteringDataSet(0)});
    EXPECT_EQ(dump(messages[0]), dump(concat({header(16 + 224 + 48 + 40, 0, 0), kTemplateSetHeader,
                                              kIPv4Template, kIPv6Template, kOptionsSetHeader,
                                              kExportingTemplate, kMeteringTemplate, data_sets})));
    EXPECT_EQ(dump(messages[1]), dump(concat({header(16 + 48 + 40, 2, 0), data_sets})));
    EXPECT_EQ(session.sequenceNumber(), 4u);
    EXPECT_EQ(session.reportSequenceNumber(), 4u);
}

TEST_F(GoldenTest, TemplatesAndFirstRecordShareAMessage) {
    session_.begin(kNowMs);
    session_.add(ipv4Record());
    session_.flush();
    ASSERT_EQ(messages_.size(), 1u);
    EXPECT_EQ(records_[0], 1u);
    const Bytes& m = messages_[0];
    ASSERT_EQ(m.size(), 16u + 164 + 4 + 64);
    EXPECT_EQ(dump(Bytes(m.begin(), m.begin() + 16)), dump(header(16 + 164 + 4 + 64)));
    // The templates come first, then the data set that uses them.
    EXPECT_EQ(dump(Bytes(m.begin() + 16, m.begin() + 20)), dump(kTemplateSetHeader));
    EXPECT_EQ(dump(Bytes(m.begin() + 180, m.begin() + 184)), dump(hex("01 00 00 44")));
}

} // namespace
} // namespace l3af::ipfix
