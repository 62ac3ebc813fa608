#pragma once

// The four templates a session announces, and their encoding as one Template
// Set and one Options Template Set (RFC 7011 sections 3.4.1, 3.4.2). The two
// sets go in the messages of different Observation Domains (see session.h),
// so each can be had alone.
//
// Flow records (templates 256 IPv4 and 257 IPv6) list their fields widest
// first, so every 8-, 4- and 2-byte field sits at an offset that is a
// multiple of its size inside the record and no padding is ever needed:
//
//   offset v4/v6  element                     length
//    0 /  0       octetDeltaCount(1)              8
//    8 /  8       packetDeltaCount(2)             8
//   16 / 16       flowStartMilliseconds(152)      8
//   24 / 24       flowEndMilliseconds(153)        8
//   32 / 32       sourceIPv4Address(8)        4 / sourceIPv6Address(27)      16
//   36 / 48       destinationIPv4Address(12)  4 / destinationIPv6Address(28) 16
//   40 / 64       ingressInterface(10)            4
//   44 / 68       egressInterface(14)             4
//   48 / 72       sourceTransportPort(7)          2
//   50 / 74       destinationTransportPort(11)    2
//   52 / 76       icmpTypeCodeIPv4(32) / icmpTypeCodeIPv6(139)  2
//   54 / 78       vlanId(58)                      2
//   56 / 80       tcpControlBits(6)               2
//   58 / 82       protocolIdentifier(4)           1
//   59 / 83       ipClassOfService(5)             1
//   60 / 84       flowDirection(61)               1
//   61 / 85       flowEndReason(136)              1
//   62 / 86       minimumTTL(52)                  1
//   63 / 87       maximumTTL(53)                  1
//   64 / 88       (end of record)
//
// The reliability statistics follow RFC 7011 sections 4.2 and 4.3, which list
// the scope and the non-scope fields; the "time first/last ... ignored/dropped"
// pair is two observationTimeMilliseconds(323) fields, first then last, as
// those sections require (two observationTime* elements of one precision).
//
//   258 Exporting Process Reliability Statistics (4.3), 44-byte record:
//       scope exportingProcessId(144) 4; notSentFlowTotalCount(166) 8,
//       notSentPacketTotalCount(167) 8, notSentOctetTotalCount(168) 8,
//       observationTimeMilliseconds(323) 8 (first), (323) 8 (last)
//   259 Metering Process Reliability Statistics (4.2), 36-byte record:
//       scope observationDomainId(149) 4; ignoredPacketTotalCount(164) 8,
//       ignoredOctetTotalCount(165) 8, observationTimeMilliseconds(323) 8
//       (first), (323) 8 (last)

#include "ipfix/elements.h"

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace l3af::ipfix {

inline constexpr std::array<FieldSpec, 19> kIPv4FlowFields{
    ie::kOctetDeltaCount,
    ie::kPacketDeltaCount,
    ie::kFlowStartMilliseconds,
    ie::kFlowEndMilliseconds,
    ie::kSourceIPv4Address,
    ie::kDestinationIPv4Address,
    ie::kIngressInterface,
    ie::kEgressInterface,
    ie::kSourceTransportPort,
    ie::kDestinationTransportPort,
    ie::kIcmpTypeCodeIPv4,
    ie::kVlanId,
    ie::kTcpControlBits,
    ie::kProtocolIdentifier,
    ie::kIpClassOfService,
    ie::kFlowDirection,
    ie::kFlowEndReason,
    ie::kMinimumTTL,
    ie::kMaximumTTL,
};

inline constexpr std::array<FieldSpec, 19> kIPv6FlowFields{
    ie::kOctetDeltaCount,
    ie::kPacketDeltaCount,
    ie::kFlowStartMilliseconds,
    ie::kFlowEndMilliseconds,
    ie::kSourceIPv6Address,
    ie::kDestinationIPv6Address,
    ie::kIngressInterface,
    ie::kEgressInterface,
    ie::kSourceTransportPort,
    ie::kDestinationTransportPort,
    ie::kIcmpTypeCodeIPv6,
    ie::kVlanId,
    ie::kTcpControlBits,
    ie::kProtocolIdentifier,
    ie::kIpClassOfService,
    ie::kFlowDirection,
    ie::kFlowEndReason,
    ie::kMinimumTTL,
    ie::kMaximumTTL,
};

// Scope fields come first in an Options Template Record (section 3.4.2.2).
inline constexpr size_t kExportingReliabilityScopeFields = 1;
inline constexpr std::array<FieldSpec, 6> kExportingReliabilityFields{
    ie::kExportingProcessId,     ie::kNotSentFlowTotalCount,       ie::kNotSentPacketTotalCount,
    ie::kNotSentOctetTotalCount, ie::kObservationTimeMilliseconds, ie::kObservationTimeMilliseconds,
};

inline constexpr size_t kMeteringReliabilityScopeFields = 1;
inline constexpr std::array<FieldSpec, 5> kMeteringReliabilityFields{
    ie::kObservationDomainId,         ie::kIgnoredPacketTotalCount,     ie::kIgnoredOctetTotalCount,
    ie::kObservationTimeMilliseconds, ie::kObservationTimeMilliseconds,
};

template <size_t N> constexpr size_t recordLength(const std::array<FieldSpec, N>& fields) {
    size_t total = 0;
    for (const FieldSpec& f : fields)
        total += f.length;
    return total;
}

inline constexpr size_t kIPv4FlowRecordLength = recordLength(kIPv4FlowFields);
inline constexpr size_t kIPv6FlowRecordLength = recordLength(kIPv6FlowFields);
inline constexpr size_t kExportingReliabilityRecordLength =
    recordLength(kExportingReliabilityFields);
inline constexpr size_t kMeteringReliabilityRecordLength = recordLength(kMeteringReliabilityFields);
static_assert(kIPv4FlowRecordLength == 64);
static_assert(kIPv6FlowRecordLength == 88);
static_assert(kExportingReliabilityRecordLength == 44);
static_assert(kMeteringReliabilityRecordLength == 36);

inline constexpr size_t kMessageHeaderLength = 16; // section 3.1
inline constexpr size_t kSetHeaderLength = 4;      // section 3.3.2
inline constexpr size_t kMaxMessageLength = 65535; // the header's 16-bit Length

// The Template Set (256, 257): 4 + 2 * (4 + 19 * 4) = 164 bytes.
inline constexpr size_t kFlowTemplateSetLength =
    kSetHeaderLength + (4 + 4 * kIPv4FlowFields.size()) + (4 + 4 * kIPv6FlowFields.size());
static_assert(kFlowTemplateSetLength == 164);

// The Options Template Set (258, 259): 4 + (6 + 6 * 4) + (6 + 5 * 4) = 60 bytes.
inline constexpr size_t kOptionsTemplateSetLength = kSetHeaderLength +
                                                    (6 + 4 * kExportingReliabilityFields.size()) +
                                                    (6 + 4 * kMeteringReliabilityFields.size());
static_assert(kOptionsTemplateSetLength == 60);

// Both sets as one block, the Template Set first: what a session whose flows
// and reliability records share one Observation Domain announces.
inline constexpr size_t kTemplateSetsLength = kFlowTemplateSetLength + kOptionsTemplateSetLength;
static_assert(kTemplateSetsLength == 224);

// The smallest max_message_size a session accepts: a message that starts with
// all the templates still has room for the largest data record, so every
// message carries at least one data record or the templates.
inline constexpr size_t kMinMessageLength =
    kMessageHeaderLength + kTemplateSetsLength + kSetHeaderLength + kIPv6FlowRecordLength;

// The encoded sets, computed at compile time: the Template Set alone, the
// Options Template Set alone, and both together.
std::span<const uint8_t, kFlowTemplateSetLength> flowTemplateSet();
std::span<const uint8_t, kOptionsTemplateSetLength> optionsTemplateSet();
std::span<const uint8_t, kTemplateSetsLength> templateSets();

} // namespace l3af::ipfix
