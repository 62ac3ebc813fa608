// Single values as the mirror rules write them: CIDR prefixes and port
// ranges, text in, the value or the reason out.

#include "config/checks.h"

#include <gtest/gtest.h>

using namespace l3af::config;

namespace {

Cidr v4(std::array<uint8_t, 4> bytes, uint8_t prefix_len) {
    Cidr cidr;
    cidr.family = 4;
    std::copy(bytes.begin(), bytes.end(), cidr.address.begin());
    cidr.prefix_len = prefix_len;
    return cidr;
}

std::string problem(std::string_view text) {
    auto cidr = parseCidr(text);
    return cidr ? "(parsed as " + cidr->str() + ")" : cidr.error();
}

std::string portProblem(std::string_view text) {
    auto range = parsePortRange(text);
    return range ? "(parsed)" : range.error();
}

TEST(ParseCidr, ReadsIpv4InNetworkOrderInTheFirstFourBytes) {
    EXPECT_EQ(parseCidr("10.0.0.0/8"), v4({10, 0, 0, 0}, 8));
    EXPECT_EQ(parseCidr("192.0.2.0/24"), v4({192, 0, 2, 0}, 24));
    EXPECT_EQ(parseCidr("0.0.0.0/0"), v4({0, 0, 0, 0}, 0));
    EXPECT_EQ(parseCidr("10.0.0.0/7"), v4({10, 0, 0, 0}, 7));
    EXPECT_EQ(parseCidr("192.168.1.128/25"), v4({192, 168, 1, 128}, 25));
}

TEST(ParseCidr, ABareAddressIsAHost) {
    EXPECT_EQ(parseCidr("198.51.100.7"), v4({198, 51, 100, 7}, 32));
    const auto host = parseCidr("2001:db8::1");
    ASSERT_TRUE(host.has_value());
    EXPECT_EQ(host->family, 6);
    EXPECT_EQ(host->prefix_len, 128);
    EXPECT_EQ(host->address[0], 0x20);
    EXPECT_EQ(host->address[1], 0x01);
    EXPECT_EQ(host->address[15], 0x01);
}

TEST(ParseCidr, ReadsIpv6) {
    const auto net = parseCidr("2001:db8:8000::/33");
    ASSERT_TRUE(net.has_value());
    EXPECT_EQ(net->family, 6);
    EXPECT_EQ(net->prefix_len, 33);
    const std::array<uint8_t, 16> expected{0x20, 0x01, 0x0d, 0xb8, 0x80};
    EXPECT_EQ(net->address, expected);
    EXPECT_EQ(net->str(), "2001:db8:8000::/33");
    EXPECT_EQ(parseCidr("::/0")->str(), "::/0");
    EXPECT_EQ(parseCidr("::ffff:10.0.0.0/104")->family, 6);
}

TEST(ParseCidr, RefusesHostBitsAndSuggestsTheNetwork) {
    EXPECT_EQ(problem("10.0.0.1/8"), "10.0.0.1/8 has host bits set; did you mean 10.0.0.0/8?");
    EXPECT_EQ(problem("11.0.0.0/7"), "11.0.0.0/7 has host bits set; did you mean 10.0.0.0/7?");
    EXPECT_EQ(problem("0.0.0.1/0"), "0.0.0.1/0 has host bits set; did you mean 0.0.0.0/0?");
    EXPECT_EQ(problem("2001:db8:c000::/33"),
              "2001:db8:c000::/33 has host bits set; did you mean 2001:db8:8000::/33?");
    EXPECT_EQ(problem("2001:db8::1/127"),
              "2001:db8::1/127 has host bits set; did you mean 2001:db8::/127?");
}

TEST(ParseCidr, RefusesBadPrefixLengths) {
    EXPECT_EQ(problem("10.0.0.0/33"), "\"10.0.0.0/33\": an IPv4 prefix length is 0 to 32");
    EXPECT_EQ(problem("::/129"), "\"::/129\": an IPv6 prefix length is 0 to 128");
    EXPECT_EQ(problem("::/99999999999999999999"),
              "\"::/99999999999999999999\": the prefix length after '/' must be a decimal number");
    for (std::string_view text :
         {"10.0.0.0/", "10.0.0.0/+8", "10.0.0.0/ 8", "10.0.0.0/8 ", "10.0.0.0/0x8", "10.0.0.0/8/8"})
        EXPECT_EQ(problem(text), "\"" + std::string(text) +
                                     "\": the prefix length after '/' must be a decimal number");
}

TEST(ParseCidr, RefusesWhatIsNotAnAddress) {
    for (std::string_view text : {"", "/8", "10.0.0/8", "10.0.0.0.0/8", "any", "eth0",
                                  " 10.0.0.0/8", "fe80::1%eth0", "1.2.3.256", "::1::2"})
        EXPECT_EQ(problem(text), "\"" + std::string(text) +
                                     "\" is not an IPv4 or IPv6 CIDR such as \"10.0.0.0/8\" or "
                                     "\"2001:db8::/32\"");
    EXPECT_FALSE(parseCidr(std::string_view("10.0.0.0\0/8", 11)).has_value());
}

TEST(CidrStr, WritesAddressAndPrefix) {
    EXPECT_EQ(v4({10, 0, 0, 0}, 8).str(), "10.0.0.0/8");
    EXPECT_EQ(v4({198, 51, 100, 7}, 32).str(), "198.51.100.7/32");
    EXPECT_EQ(parseCidr("2001:DB8::/32")->str(), "2001:db8::/32");
}

TEST(ParsePortRange, ReadsAPortOrARange) {
    EXPECT_EQ(parsePortRange("443"), (PortRange{443, 443}));
    EXPECT_EQ(parsePortRange("0"), (PortRange{0, 0}));
    EXPECT_EQ(parsePortRange("65535"), (PortRange{65535, 65535}));
    EXPECT_EQ(parsePortRange("1024-65535"), (PortRange{1024, 65535}));
    EXPECT_EQ(parsePortRange("0-65535"), (PortRange{0, 65535}));
    EXPECT_EQ(parsePortRange("80-80"), (PortRange{80, 80}));
}

TEST(ParsePortRange, SaysWhatIsWrong) {
    EXPECT_EQ(portProblem("65536"), "\"65536\": ports are 0 to 65535");
    EXPECT_EQ(portProblem("1-99999999999"), "\"1-99999999999\": ports are 0 to 65535");
    EXPECT_EQ(portProblem("2000-1000"), "\"2000-1000\": the first port is greater than the last");
    for (std::string_view text : {"", "-", "http", "-5", "1-", "1--2", "1-2-3", " 443", "443 ",
                                  "1024 - 2048", "+443", "0x50", "4.5"})
        EXPECT_EQ(portProblem(text), "\"" + std::string(text) +
                                         "\" is not a port or a port range such as \"443\" or "
                                         "\"1024-65535\"");
}

TEST(CarriesPorts, TcpUdpSctpUdpLiteOnly) {
    for (int protocol = 0; protocol <= 255; ++protocol)
        EXPECT_EQ(carriesPorts(static_cast<uint8_t>(protocol)),
                  protocol == 6 || protocol == 17 || protocol == 132 || protocol == 136)
            << protocol;
}

} // namespace
