// IPFIX over UDP to real loopback collectors, on a real sd-event loop.

#include "export/collector_connection.h"
#include "loopback.h"

#include <gtest/gtest.h>

using namespace l3af;
using namespace l3af::exporter;
using namespace l3af::exporter::testing;

namespace {

config::Collector udpCollector(std::string address, uint16_t port) {
    config::Collector collector;
    collector.name = "test";
    collector.address = std::move(address);
    collector.port = port;
    collector.transport = config::Transport::Udp;
    return collector;
}

} // namespace

TEST(UdpConnection, DeliversEachMessageAsOneDatagram) {
    EventPtr event = newEventLoop();
    UdpCollector collector(event.get());
    ASSERT_TRUE(collector.valid());

    auto connection = connectCollector(event.get(), udpCollector("127.0.0.1", collector.port()));
    ASSERT_TRUE(connection.has_value()) << connection.error().message();
    CollectorConnection& udp = **connection;
    int sessions = 0;
    udp.on_session_start = [&] { sessions++; };
    EXPECT_EQ(sessions, 0); // fired from the loop, after the caller could set it
    ASSERT_TRUE(runUntil(event.get(), [&] { return sessions == 1; }));
    EXPECT_TRUE(udp.counters().connected);

    uint64_t bytes = 0, records = 0;
    for (uint32_t i = 0; i < 100; ++i) {
        Bytes message = makeMessage(i, lengthFor(i));
        bytes += message.size();
        records += i % 7;
        ASSERT_TRUE(udp.send(message, i % 7));
        // One at a time: a burst could overrun the receive buffer, which is
        // UDP's loss to make, not what this test is about.
        ASSERT_TRUE(runUntil(event.get(), [&] { return collector.datagrams().size() == i + 1; }));
        EXPECT_EQ(collector.datagrams().back(), message) << "message " << i;
    }

    const CollectorCounters& counters = udp.counters();
    EXPECT_EQ(counters.messages_sent, 100u);
    EXPECT_EQ(counters.bytes_sent, bytes);
    EXPECT_EQ(counters.records_sent, records);
    EXPECT_EQ(counters.send_errors, 0u);
    EXPECT_EQ(counters.messages_dropped, 0u);
    EXPECT_EQ(counters.connects, 1u);
    EXPECT_EQ(sessions, 1);
}

TEST(UdpConnection, PortWithoutListenerCountsErrorsAndNeverBlocks) {
    EventPtr event = newEventLoop();
    uint16_t port;
    {
        // A port that was free a moment ago and has no listener now.
        UdpCollector gone(event.get());
        ASSERT_TRUE(gone.valid());
        port = gone.port();
    }
    auto connection = connectCollector(event.get(), udpCollector("127.0.0.1", port));
    ASSERT_TRUE(connection.has_value()) << connection.error().message();
    CollectorConnection& udp = **connection;

    // Each datagram draws an ICMP port unreachable, which the connected socket
    // reports on a later send() as ECONNREFUSED.
    uint32_t sent = 0;
    ASSERT_TRUE(runUntil(event.get(), [&] {
        udp.send(makeMessage(sent, 64), 2);
        sent++;
        return udp.counters().send_errors >= 3;
    }));
    udp.send(makeMessage(sent++, 64), 2); // and the socket stays usable

    const CollectorCounters& counters = udp.counters();
    EXPECT_EQ(counters.messages_sent + counters.messages_dropped, sent);
    EXPECT_EQ(counters.messages_dropped, counters.send_errors);
    EXPECT_EQ(counters.records_dropped, 2 * counters.messages_dropped);
    EXPECT_EQ(counters.last_error, "send: Connection refused");
    EXPECT_TRUE(counters.connected);
}

TEST(UdpConnection, ReachesAnIpv6Collector) {
    EventPtr event = newEventLoop();
    UdpCollector collector(event.get(), AF_INET6);
    if (!collector.valid())
        GTEST_SKIP() << "no IPv6 loopback here";

    auto connection = connectCollector(event.get(), udpCollector("::1", collector.port()));
    ASSERT_TRUE(connection.has_value()) << connection.error().message();
    Bytes message = makeMessage(7, 300);
    ASSERT_TRUE((*connection)->send(message, 1));
    ASSERT_TRUE(runUntil(event.get(), [&] { return collector.datagrams().size() == 1; }));
    EXPECT_EQ(collector.datagrams()[0], message);
}

TEST(UdpConnection, RejectsAnAddressThatIsNotALiteral) {
    EventPtr event = newEventLoop();
    auto connection = connectCollector(event.get(), udpCollector("collector.example", 4739));
    ASSERT_FALSE(connection.has_value());
    EXPECT_EQ(connection.error().code(), EINVAL);
    EXPECT_EQ(connection.error().context(),
              "collector.example port 4739/udp: 'collector.example' is not an IPv4 or IPv6 "
              "address");
}
