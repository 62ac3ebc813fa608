#pragma once

// A fluent builder of Ethernet frames for BPF_PROG_TEST_RUN fixtures:
//
//   PacketBuilder().vlan(100).ipv4("10.0.0.1", "10.0.0.2").tcp(40000, 443, kSyn).payload(100)
//
// Every length field (IPv4 total length and IHL, IPv6 payload length, UDP
// length, TCP data offset, extension header lengths) comes out consistent
// with what was built, unless a test asks for a malformed packet on purpose
// (ihl(), cutL4(), truncateFrame()). The IPv4 header checksum is filled in;
// L4 checksums are left zero: nothing under test reads them.

#include "checksum.h"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace l3af::test {

using Bytes = std::vector<uint8_t>;

inline constexpr uint8_t kFin = 0x01;
inline constexpr uint8_t kSyn = 0x02;
inline constexpr uint8_t kRst = 0x04;
inline constexpr uint8_t kPsh = 0x08;
inline constexpr uint8_t kAck = 0x10;

class PacketBuilder {
  public:
    // --- L2 ---------------------------------------------------------------
    // A VLAN tag; the first call is the outermost tag.
    PacketBuilder& vlan(uint16_t vid, uint16_t tpid = ETH_P_8021Q, uint8_t pcp = 0) {
        tags_.push_back({tpid, static_cast<uint16_t>(pcp << 13 | (vid & 0x0fff))});
        return *this;
    }
    // A frame that carries something other than IP: `bytes` of payload follow.
    PacketBuilder& ethertype(uint16_t type) {
        ethertype_ = type;
        return *this;
    }

    // --- L3 ---------------------------------------------------------------
    PacketBuilder& ipv4(std::string_view src, std::string_view dst) {
        family_ = 4;
        ethertype_ = ETH_P_IP;
        parseAddress(AF_INET, src, src_);
        parseAddress(AF_INET, dst, dst_);
        return *this;
    }
    PacketBuilder& ipv6(std::string_view src, std::string_view dst) {
        family_ = 6;
        ethertype_ = ETH_P_IPV6;
        parseAddress(AF_INET6, src, src_);
        parseAddress(AF_INET6, dst, dst_);
        return *this;
    }
    // IPv4 TTL / IPv6 hop limit.
    PacketBuilder& ttl(uint8_t ttl) {
        ttl_ = ttl;
        return *this;
    }
    // IPv4 TOS / IPv6 traffic class.
    PacketBuilder& tos(uint8_t tos) {
        tos_ = tos;
        return *this;
    }
    // IPv4 options: `bytes` (a multiple of 4) of NOPs, which grow the IHL.
    PacketBuilder& ipv4Options(size_t bytes) {
        requireFamily(4, "ipv4Options");
        if (bytes % 4 != 0 || bytes > 40)
            throw std::invalid_argument("IPv4 options are 0..40 bytes, a multiple of 4");
        ipv4_options_ = bytes;
        return *this;
    }
    // Writes this IHL (32-bit words) whatever the header's real length.
    PacketBuilder& ihl(uint8_t words) {
        requireFamily(4, "ihl");
        ihl_override_ = words;
        return *this;
    }
    // A fragment at `offset` bytes (a multiple of 8), with or without the
    // more-fragments flag. IPv4: the header's fragment field. IPv6: a
    // fragment header, placed after the extension headers added before it.
    PacketBuilder& fragment(uint16_t offset, bool more) {
        if (offset % 8 != 0)
            throw std::invalid_argument("fragment offsets are multiples of 8");
        if (family_ == 4) {
            ipv4_frag_off_ = static_cast<uint16_t>((more ? 0x2000 : 0) | offset / 8);
        } else {
            requireFamily(6, "fragment");
            extensions_.push_back({IPPROTO_FRAGMENT, 8, static_cast<uint16_t>(offset | more)});
        }
        return *this;
    }
    // IPv6 extension headers of `bytes` (a multiple of 8), padded with PadN.
    PacketBuilder& hopByHop(size_t bytes = 8) { return extension(IPPROTO_HOPOPTS, bytes, 8); }
    PacketBuilder& destinationOptions(size_t bytes = 8) {
        return extension(IPPROTO_DSTOPTS, bytes, 8);
    }
    PacketBuilder& routing(size_t bytes = 8) { return extension(IPPROTO_ROUTING, bytes, 8); }
    // An authentication header of `bytes` (a multiple of 4, at least 12).
    PacketBuilder& authentication(size_t bytes = 24) { return extension(IPPROTO_AH, bytes, 4); }

    // --- L4 ---------------------------------------------------------------
    // TCP with `options` bytes of NOP options (a multiple of 4).
    PacketBuilder& tcp(uint16_t sport, uint16_t dport, uint8_t flags = kAck, size_t options = 0) {
        if (options % 4 != 0 || options > 40)
            throw std::invalid_argument("TCP options are 0..40 bytes, a multiple of 4");
        protocol_ = IPPROTO_TCP;
        sport_ = sport;
        dport_ = dport;
        tcp_flags_ = flags;
        tcp_options_ = options;
        return *this;
    }
    PacketBuilder& udp(uint16_t sport, uint16_t dport) {
        protocol_ = IPPROTO_UDP;
        sport_ = sport;
        dport_ = dport;
        return *this;
    }
    // SCTP's common header (ports, verification tag, checksum 0): mirror
    // rules match its ports.
    PacketBuilder& sctp(uint16_t sport, uint16_t dport) {
        protocol_ = kSctp;
        sport_ = sport;
        dport_ = dport;
        return *this;
    }
    // UDP-Lite: UDP's header with checksum coverage in place of the length.
    PacketBuilder& udplite(uint16_t sport, uint16_t dport) {
        protocol_ = kUdplite;
        sport_ = sport;
        dport_ = dport;
        return *this;
    }
    // ICMP over IPv4, ICMPv6 over IPv6.
    PacketBuilder& icmp(uint8_t type, uint8_t code) {
        protocol_ = family_ == 6 ? uint8_t{IPPROTO_ICMPV6} : uint8_t{IPPROTO_ICMP};
        icmp_type_ = type;
        icmp_code_ = code;
        return *this;
    }
    // Any IP protocol, with no L4 header built: the payload follows the IP
    // header directly (also how a non-first fragment looks).
    PacketBuilder& protocol(uint8_t protocol) {
        protocol_ = protocol;
        raw_l4_ = true;
        return *this;
    }
    // Bytes after the L4 header; a pattern that is never all zero, so a
    // parser that reads payload as ports shows up.
    PacketBuilder& payload(size_t bytes) {
        payload_ = bytes;
        return *this;
    }

    // --- Malformed and odd frames ------------------------------------------
    // The IP packet ends `keep` bytes into the L4 header and its length
    // fields say so: a well-formed IP packet with a cut-short L4 header.
    PacketBuilder& cutL4(size_t keep) {
        cut_l4_ = keep;
        return *this;
    }
    // Zero bytes after the IP packet up to `bytes`: Ethernet minimum padding.
    PacketBuilder& padFrameTo(size_t bytes) {
        pad_to_ = bytes;
        return *this;
    }
    // Cuts the finished frame to `bytes`, leaving every length field as it
    // was: a frame cut in transit.
    PacketBuilder& truncateFrame(size_t bytes) {
        truncate_to_ = bytes;
        return *this;
    }

    Bytes build() const {
        Bytes frame;
        // Ethernet: locally administered MACs, then the tags.
        append(frame, {0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01});
        for (const Tag& tag : tags_) {
            put16(frame, tag.tpid);
            put16(frame, tag.tci);
        }
        put16(frame, ethertype_);

        if (family_ == 0) {
            appendPattern(frame, payload_);
        } else {
            Bytes l4 = buildL4();
            if (cut_l4_ && *cut_l4_ < l4.size())
                l4.resize(*cut_l4_);
            if (family_ == 4)
                appendIpv4(frame, l4);
            else
                appendIpv6(frame, l4);
        }

        if (frame.size() < pad_to_)
            frame.resize(pad_to_, 0);
        if (truncate_to_ && *truncate_to_ < frame.size())
            frame.resize(*truncate_to_);
        return frame;
    }

  private:
    static constexpr uint8_t kSctp = 132;
    static constexpr uint8_t kUdplite = 136;

    struct Tag {
        uint16_t tpid;
        uint16_t tci;
    };
    struct Extension {
        uint8_t type;
        size_t bytes;
        uint16_t frag_off = 0; // fragment header: offset | M flag
    };

    PacketBuilder& extension(uint8_t type, size_t bytes, size_t unit) {
        requireFamily(6, "an IPv6 extension header");
        if (bytes < 8 || bytes % unit != 0 || (type == IPPROTO_AH && bytes < 12))
            throw std::invalid_argument("bad IPv6 extension header length");
        extensions_.push_back({type, bytes});
        return *this;
    }

    void requireFamily(int family, const char* what) const {
        if (family_ != family)
            throw std::logic_error(std::string(what) + " needs IPv" + std::to_string(family));
    }

    static void parseAddress(int af, std::string_view text, uint8_t (&out)[16]) {
        std::string s(text);
        uint8_t buf[16] = {};
        if (inet_pton(af, s.c_str(), buf) != 1)
            throw std::invalid_argument("bad address " + s);
        std::copy(std::begin(buf), std::end(buf), std::begin(out));
    }

    static void append(Bytes& out, std::initializer_list<uint8_t> bytes) {
        out.insert(out.end(), bytes);
    }
    static void put16(Bytes& out, uint16_t value) {
        out.push_back(static_cast<uint8_t>(value >> 8));
        out.push_back(static_cast<uint8_t>(value));
    }
    static void put16At(Bytes& out, size_t at, uint16_t value) {
        out[at] = static_cast<uint8_t>(value >> 8);
        out[at + 1] = static_cast<uint8_t>(value);
    }
    static void appendPattern(Bytes& out, size_t bytes) {
        for (size_t i = 0; i < bytes; i++)
            out.push_back(static_cast<uint8_t>(0xa5 ^ i));
    }

    Bytes buildL4() const {
        Bytes l4;
        if (raw_l4_ || protocol_ == 0) {
            appendPattern(l4, payload_);
            return l4;
        }
        switch (protocol_) {
        case IPPROTO_TCP: {
            put16(l4, sport_);
            put16(l4, dport_);
            append(l4, {0, 0, 0, 1, 0, 0, 0, 0}); // sequence 1, no ack number
            l4.push_back(static_cast<uint8_t>((20 + tcp_options_) / 4 << 4));
            l4.push_back(tcp_flags_);
            append(l4, {0xff, 0xff, 0, 0, 0, 0}); // window, checksum, urgent
            l4.insert(l4.end(), tcp_options_, 1); // NOP options
            break;
        }
        case IPPROTO_UDP:
            put16(l4, sport_);
            put16(l4, dport_);
            put16(l4, static_cast<uint16_t>(8 + payload_));
            put16(l4, 0);
            break;
        case kUdplite: // checksum coverage 0: the whole datagram
            put16(l4, sport_);
            put16(l4, dport_);
            append(l4, {0, 0, 0, 0});
            break;
        case kSctp:
            put16(l4, sport_);
            put16(l4, dport_);
            append(l4, {0, 0, 0, 1, 0, 0, 0, 0}); // verification tag 1, checksum
            break;
        default: // ICMP, ICMPv6: type, code, checksum, identifier 1, sequence 1
            append(l4, {icmp_type_, icmp_code_, 0, 0, 0, 1, 0, 1});
            break;
        }
        appendPattern(l4, payload_);
        return l4;
    }

    void appendIpv4(Bytes& frame, const Bytes& l4) const {
        size_t start = frame.size();
        size_t header = 20 + ipv4_options_;
        uint8_t ihl = ihl_override_.value_or(static_cast<uint8_t>(header / 4));
        frame.push_back(static_cast<uint8_t>(0x40 | ihl));
        frame.push_back(tos_);
        put16(frame, static_cast<uint16_t>(header + l4.size()));
        put16(frame, 0x1234); // identification
        put16(frame, ipv4_frag_off_);
        frame.push_back(ttl_);
        frame.push_back(protocol_);
        put16(frame, 0); // checksum, below
        frame.insert(frame.end(), src_, src_ + 4);
        frame.insert(frame.end(), dst_, dst_ + 4);
        frame.insert(frame.end(), ipv4_options_, 1); // NOP options
        put16At(frame, start + 10, foldComplement(onesSum(frame.data() + start, header)));
        frame.insert(frame.end(), l4.begin(), l4.end());
    }

    void appendIpv6(Bytes& frame, const Bytes& l4) const {
        size_t ext_bytes = 0;
        for (const Extension& ext : extensions_)
            ext_bytes += ext.bytes;
        uint32_t first_word = 6u << 28 | uint32_t{tos_} << 20 | 0x12345; // flow label
        put16(frame, static_cast<uint16_t>(first_word >> 16));
        put16(frame, static_cast<uint16_t>(first_word));
        put16(frame, static_cast<uint16_t>(ext_bytes + l4.size()));
        frame.push_back(extensions_.empty() ? protocol_ : extensions_.front().type);
        frame.push_back(ttl_);
        frame.insert(frame.end(), src_, src_ + 16);
        frame.insert(frame.end(), dst_, dst_ + 16);

        for (size_t i = 0; i < extensions_.size(); i++) {
            const Extension& ext = extensions_[i];
            uint8_t next = i + 1 < extensions_.size() ? extensions_[i + 1].type : protocol_;
            frame.push_back(next);
            switch (ext.type) {
            case IPPROTO_FRAGMENT:
                frame.push_back(0);
                put16(frame, ext.frag_off);
                append(frame, {0xde, 0xad, 0xbe, 0xef}); // identification
                break;
            case IPPROTO_AH: // RFC 4302: 4-byte units, minus 2; SPI, sequence, ICV
                frame.push_back(static_cast<uint8_t>(ext.bytes / 4 - 2));
                append(frame, {0, 0, 0, 0, 0, 1, 0, 0, 0, 1});
                frame.insert(frame.end(), ext.bytes - 12, 0);
                break;
            default: // 8-byte units, minus 1; one PadN option fills the rest
                frame.push_back(static_cast<uint8_t>(ext.bytes / 8 - 1));
                frame.push_back(1);
                frame.push_back(static_cast<uint8_t>(ext.bytes - 4));
                frame.insert(frame.end(), ext.bytes - 4, 0);
                break;
            }
        }
        frame.insert(frame.end(), l4.begin(), l4.end());
    }

    std::vector<Tag> tags_;
    uint16_t ethertype_ = 0;
    int family_ = 0;
    uint8_t src_[16] = {};
    uint8_t dst_[16] = {};
    uint8_t ttl_ = 64;
    uint8_t tos_ = 0;
    size_t ipv4_options_ = 0;
    std::optional<uint8_t> ihl_override_;
    uint16_t ipv4_frag_off_ = 0;
    std::vector<Extension> extensions_;
    uint8_t protocol_ = 0;
    bool raw_l4_ = false;
    uint16_t sport_ = 0;
    uint16_t dport_ = 0;
    uint8_t tcp_flags_ = 0;
    size_t tcp_options_ = 0;
    uint8_t icmp_type_ = 0;
    uint8_t icmp_code_ = 0;
    size_t payload_ = 0;
    std::optional<size_t> cut_l4_;
    size_t pad_to_ = 0;
    std::optional<size_t> truncate_to_;
};

} // namespace l3af::test
