#pragma once

// The IPFIX Information Elements l3afd exports (IANA "IPFIX Information
// Elements" registry; RFC 7012 and the RFCs that registered them), with the
// length each one takes in our templates, and the Set and Template IDs of
// RFC 7011 section 3.3.2. All lengths are the full length of the element's
// abstract data type: no reduced-size encoding (RFC 7011 section 6.2).

#include <cstdint>

namespace l3af::ipfix {

// One Field Specifier (RFC 7011 section 3.2) without an Enterprise Number:
// every element here is an IANA element.
struct FieldSpec {
    uint16_t id;
    uint16_t length;
};

namespace ie {
// Counters and times of a flow.
inline constexpr FieldSpec kOctetDeltaCount{1, 8};         // unsigned64, RFC 7012
inline constexpr FieldSpec kPacketDeltaCount{2, 8};        // unsigned64
inline constexpr FieldSpec kFlowStartMilliseconds{152, 8}; // dateTimeMilliseconds
inline constexpr FieldSpec kFlowEndMilliseconds{153, 8};   // dateTimeMilliseconds
// The flow key.
inline constexpr FieldSpec kSourceIPv4Address{8, 4};        // ipv4Address
inline constexpr FieldSpec kDestinationIPv4Address{12, 4};  // ipv4Address
inline constexpr FieldSpec kSourceIPv6Address{27, 16};      // ipv6Address
inline constexpr FieldSpec kDestinationIPv6Address{28, 16}; // ipv6Address
inline constexpr FieldSpec kIngressInterface{10, 4};        // unsigned32
inline constexpr FieldSpec kEgressInterface{14, 4};         // unsigned32
inline constexpr FieldSpec kSourceTransportPort{7, 2};      // unsigned16
inline constexpr FieldSpec kDestinationTransportPort{11, 2};
inline constexpr FieldSpec kIcmpTypeCodeIPv4{32, 2};  // unsigned16: type * 256 + code
inline constexpr FieldSpec kIcmpTypeCodeIPv6{139, 2}; // unsigned16: type * 256 + code
inline constexpr FieldSpec kVlanId{58, 2};            // unsigned16
inline constexpr FieldSpec kProtocolIdentifier{4, 1}; // unsigned8
inline constexpr FieldSpec kFlowDirection{61, 1};     // unsigned8: 0 ingress, 1 egress
// Properties of the packets seen.
inline constexpr FieldSpec kTcpControlBits{6, 2};   // unsigned16 since RFC 7125
inline constexpr FieldSpec kIpClassOfService{5, 1}; // unsigned8
inline constexpr FieldSpec kMinimumTTL{52, 1};      // unsigned8
inline constexpr FieldSpec kMaximumTTL{53, 1};      // unsigned8
inline constexpr FieldSpec kFlowEndReason{136, 1};  // unsigned8, RFC 5102 5.11.3
// Reliability statistics (RFC 7011 sections 4.2 and 4.3).
inline constexpr FieldSpec kExportingProcessId{144, 4};          // unsigned32
inline constexpr FieldSpec kObservationDomainId{149, 4};         // unsigned32
inline constexpr FieldSpec kIgnoredPacketTotalCount{164, 8};     // unsigned64
inline constexpr FieldSpec kIgnoredOctetTotalCount{165, 8};      // unsigned64
inline constexpr FieldSpec kNotSentFlowTotalCount{166, 8};       // unsigned64
inline constexpr FieldSpec kNotSentPacketTotalCount{167, 8};     // unsigned64
inline constexpr FieldSpec kNotSentOctetTotalCount{168, 8};      // unsigned64
inline constexpr FieldSpec kObservationTimeMilliseconds{323, 8}; // dateTimeMilliseconds
} // namespace ie

// RFC 7011 section 3.3.2: Set IDs 2 and 3 carry (Options) Template Records;
// 256 and above are Data Sets named by their Template ID.
inline constexpr uint16_t kVersion = 10;
inline constexpr uint16_t kTemplateSetId = 2;
inline constexpr uint16_t kOptionsTemplateSetId = 3;

inline constexpr uint16_t kIPv4FlowTemplateId = 256;
inline constexpr uint16_t kIPv6FlowTemplateId = 257;
// RFC 7011 section 4.3: what the Exporting Process could not send.
inline constexpr uint16_t kExportingReliabilityTemplateId = 258;
// RFC 7011 section 4.2: what the Metering Process could not account.
inline constexpr uint16_t kMeteringReliabilityTemplateId = 259;

// flowDirection values (IANA registry, element 61).
inline constexpr uint8_t kDirectionIngress = 0;
inline constexpr uint8_t kDirectionEgress = 1;

inline constexpr uint8_t kProtocolIcmp = 1;
inline constexpr uint8_t kProtocolIcmpV6 = 58;

} // namespace l3af::ipfix
