// IPFIX over TCP to a real loopback collector on a real sd-event loop: order
// and bytes on the wire, reconnecting, the bounded queue, the backoff.

#include "export/collector_connection.h"
#include "loopback.h"

#include <gtest/gtest.h>

using namespace l3af;
using namespace l3af::exporter;
using namespace l3af::exporter::testing;

namespace {

config::Collector tcpCollector(uint16_t port, std::chrono::milliseconds reconnect_interval = 60s) {
    config::Collector collector;
    collector.name = "test";
    collector.address = "127.0.0.1";
    collector.port = port;
    collector.transport = config::Transport::Tcp;
    collector.reconnect_interval = reconnect_interval;
    return collector;
}

Bytes concat(const std::vector<Bytes>& messages) {
    Bytes out;
    for (const Bytes& m : messages)
        out.insert(out.end(), m.begin(), m.end());
    return out;
}

// What a sender offered a collector that does not read.
struct Offered {
    std::vector<uint32_t> accepted; // sequences send() took
    uint64_t accepted_bytes = 0;
    uint64_t dropped = 0;
    uint64_t calls = 0;
};

// Sends one message after another, letting the loop drain what the socket
// takes, until `drops` of them were dropped.
Offered sendUntilDropping(sd_event* event, CollectorConnection& tcp, uint64_t drops) {
    Offered offered;
    for (uint32_t seq = 0; seq < 200'000 && offered.dropped < drops; ++seq) {
        Bytes message = makeMessage(seq, lengthFor(seq));
        offered.calls++;
        if (tcp.send(message, 1)) {
            offered.accepted.push_back(seq);
            offered.accepted_bytes += message.size();
        } else {
            offered.dropped++;
        }
        EXPECT_GE(sd_event_run(event, 0), 0);
    }
    return offered;
}

} // namespace

TEST(TcpConnection, DeliversEveryMessageInOrderAfterTheSessionStarts) {
    EventPtr event = newEventLoop();
    TcpCollector server(event.get());
    const uint16_t port = server.listen();

    auto connection = connectCollector(event.get(), tcpCollector(port));
    ASSERT_TRUE(connection.has_value()) << connection.error().message();
    CollectorConnection& tcp = **connection;
    std::vector<Bytes> sent;
    int sessions = 0;
    // As the IPFIX session does: templates first, from inside the callback.
    tcp.on_session_start = [&] {
        sessions++;
        sent.push_back(makeMessage(0, 40));
        EXPECT_TRUE(tcp.send(sent.back(), 0));
    };
    EXPECT_FALSE(tcp.send(makeMessage(999, 40), 1)); // not connected yet
    ASSERT_TRUE(runUntil(event.get(), [&] { return sessions == 1; }));
    EXPECT_TRUE(tcp.counters().connected);

    for (uint32_t seq = 1; seq <= 300; ++seq) {
        sent.push_back(makeMessage(seq, lengthFor(seq)));
        ASSERT_TRUE(tcp.send(sent.back(), 2)) << "message " << seq;
    }
    const Bytes expected = concat(sent);
    ASSERT_TRUE(runUntil(event.get(), [&] { return server.received().size() >= expected.size(); }));
    EXPECT_EQ(server.received(), expected);

    const CollectorCounters& counters = tcp.counters();
    EXPECT_EQ(counters.messages_sent, 301u);
    EXPECT_EQ(counters.bytes_sent, expected.size());
    EXPECT_EQ(counters.records_sent, 600u);
    EXPECT_EQ(counters.messages_dropped, 1u); // the one before the connection
    EXPECT_EQ(counters.records_dropped, 1u);
    EXPECT_EQ(counters.queued_bytes, 0u);
    EXPECT_EQ(counters.send_errors, 0u);
    EXPECT_EQ(counters.connects, 1u);
    EXPECT_EQ(counters.disconnects, 0u);
    EXPECT_EQ(sessions, 1);
    EXPECT_EQ(server.accepted(), 1);
}

TEST(TcpConnection, ReconnectsWhenTheCollectorComesBack) {
    EventPtr event = newEventLoop();
    TcpCollector server(event.get());
    const uint16_t port = server.listen();

    TransportOptions options;
    options.initial_backoff = 20ms;
    auto connection = connectCollector(event.get(), tcpCollector(port, 200ms), options);
    ASSERT_TRUE(connection.has_value()) << connection.error().message();
    CollectorConnection& tcp = **connection;
    int sessions = 0;
    tcp.on_session_start = [&] { sessions++; };
    ASSERT_TRUE(runUntil(event.get(), [&] { return sessions == 1; }));

    std::vector<Bytes> first;
    for (uint32_t seq = 0; seq < 5; ++seq) {
        first.push_back(makeMessage(seq, lengthFor(seq)));
        ASSERT_TRUE(tcp.send(first.back(), 1));
    }
    ASSERT_TRUE(
        runUntil(event.get(), [&] { return server.received().size() == concat(first).size(); }));

    // The collector goes away while we have nothing to write: noticed anyway.
    server.close();
    ASSERT_TRUE(runUntil(event.get(), [&] { return !tcp.counters().connected; }));
    EXPECT_EQ(tcp.counters().disconnects, 1u);
    EXPECT_EQ(tcp.counters().reconnect_delay, 20ms);
    EXPECT_FALSE(tcp.counters().last_error.empty());

    // Disconnected: nothing is accepted, everything is counted.
    for (uint32_t seq = 5; seq < 8; ++seq)
        EXPECT_FALSE(tcp.send(makeMessage(seq, 100), 4));
    EXPECT_EQ(tcp.counters().messages_dropped, 3u);
    EXPECT_EQ(tcp.counters().records_dropped, 12u);

    // Attempts while nobody listens are refused and retried.
    ASSERT_TRUE(runUntil(event.get(), [&] { return tcp.counters().connect_attempts >= 3; }));
    EXPECT_FALSE(tcp.counters().connected);
    EXPECT_EQ(sessions, 1);

    server.clearReceived();
    ASSERT_EQ(server.listen(port), port);
    ASSERT_TRUE(runUntil(event.get(), [&] { return sessions == 2; }));
    EXPECT_TRUE(tcp.counters().connected);
    EXPECT_EQ(tcp.counters().connects, 2u);

    std::vector<Bytes> second;
    for (uint32_t seq = 100; seq < 105; ++seq) {
        second.push_back(makeMessage(seq, lengthFor(seq)));
        ASSERT_TRUE(tcp.send(second.back(), 1));
    }
    ASSERT_TRUE(
        runUntil(event.get(), [&] { return server.received().size() >= concat(second).size(); }));
    EXPECT_EQ(server.received(), concat(second));
    EXPECT_EQ(server.accepted(), 2);

    // The success restarted the backoff: the next loss waits the initial time again.
    server.close();
    ASSERT_TRUE(runUntil(event.get(), [&] { return !tcp.counters().connected; }));
    EXPECT_EQ(tcp.counters().disconnects, 2u);
    EXPECT_EQ(tcp.counters().reconnect_delay, 20ms);
    EXPECT_EQ(tcp.counters().messages_sent, 10u);
}

TEST(TcpConnection, CollectorThatDoesNotReadFillsTheQueueAndTheStreamStaysAligned) {
    EventPtr event = newEventLoop();
    TcpCollector server(event.get());
    server.setReading(false);
    const uint16_t port = server.listen(0, 4096);

    TransportOptions options;
    options.tcp_queue_bytes = 64 * 1024;
    auto connection = connectCollector(event.get(), tcpCollector(port), options);
    ASSERT_TRUE(connection.has_value()) << connection.error().message();
    CollectorConnection& tcp = **connection;
    ASSERT_TRUE(
        runUntil(event.get(), [&] { return tcp.counters().connected && server.accepted() == 1; }));

    const Offered offered = sendUntilDropping(event.get(), tcp, 200);
    ASSERT_EQ(offered.dropped, 200u) << "the socket and the queue never filled";
    const CollectorCounters& counters = tcp.counters();
    EXPECT_TRUE(counters.connected);
    EXPECT_GT(counters.queued_bytes, 0u);
    EXPECT_LE(counters.queued_bytes, options.tcp_queue_bytes);
    EXPECT_EQ(counters.messages_dropped, 200u);
    EXPECT_EQ(counters.records_dropped, 200u);
    EXPECT_EQ(counters.last_error, "send queue full");

    // Once the collector reads, it gets exactly the accepted messages, whole
    // and in order, with the dropped ones missing cleanly.
    server.setReading(true);
    ASSERT_TRUE(
        runUntil(event.get(), [&] { return server.received().size() >= offered.accepted_bytes; }));
    ASSERT_TRUE(runUntil(event.get(), [&] { return counters.queued_bytes == 0; }));
    auto sequences = parseStream(server.received());
    ASSERT_TRUE(sequences.has_value()) << "the stream is not a run of whole messages";
    EXPECT_EQ(*sequences, offered.accepted);
    EXPECT_EQ(counters.messages_sent, offered.accepted.size());
    EXPECT_EQ(counters.bytes_sent, offered.accepted_bytes);
    EXPECT_EQ(counters.send_errors, 0u);
}

TEST(TcpConnection, LosingTheConnectionDropsAndCountsTheQueue) {
    EventPtr event = newEventLoop();
    TcpCollector server(event.get());
    server.setReading(false);
    const uint16_t port = server.listen(0, 4096);

    TransportOptions options;
    options.tcp_queue_bytes = 64 * 1024;
    auto connection = connectCollector(event.get(), tcpCollector(port), options);
    ASSERT_TRUE(connection.has_value()) << connection.error().message();
    CollectorConnection& tcp = **connection;
    ASSERT_TRUE(
        runUntil(event.get(), [&] { return tcp.counters().connected && server.accepted() == 1; }));

    const Offered offered = sendUntilDropping(event.get(), tcp, 1);
    ASSERT_GT(tcp.counters().queued_bytes, 0u);
    server.close(); // with unread data: the collector resets the connection
    ASSERT_TRUE(runUntil(event.get(), [&] { return !tcp.counters().connected; }));

    // Every message offered is accounted for: on the wire or counted lost.
    const CollectorCounters& counters = tcp.counters();
    EXPECT_EQ(counters.queued_bytes, 0u);
    EXPECT_EQ(counters.messages_sent + counters.messages_dropped, offered.calls);
    EXPECT_EQ(counters.records_sent + counters.records_dropped, offered.calls);
    EXPECT_GT(counters.messages_dropped, offered.dropped);
    EXPECT_EQ(counters.disconnects, 1u);
}

TEST(TcpConnection, BackoffDoublesUpToTheCap) {
    EventPtr event = newEventLoop();
    // Bound but never listening: connections to it are refused, and holding
    // it keeps anyone else from taking the port.
    UniqueFd refuser(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    ASSERT_TRUE(refuser.valid());
    sockaddr_in address = loopbackV4(0);
    ASSERT_EQ(bind(refuser.get(), reinterpret_cast<sockaddr*>(&address), sizeof address), 0);

    TransportOptions options;
    options.initial_backoff = 10ms;
    auto connection =
        connectCollector(event.get(), tcpCollector(localPort(refuser.get()), 80ms), options);
    ASSERT_TRUE(connection.has_value()) << connection.error().message();
    CollectorConnection& tcp = **connection;
    int sessions = 0;
    tcp.on_session_start = [&] { sessions++; };

    // Per attempt: the loop's time when it was made, and the wait scheduled
    // after it failed.
    std::vector<uint64_t> attempt_usec;
    std::vector<std::chrono::milliseconds> wait_after;
    ASSERT_TRUE(runUntil(event.get(), [&] {
        const CollectorCounters& c = tcp.counters();
        if (c.connect_attempts > attempt_usec.size()) {
            uint64_t now = 0;
            EXPECT_GE(sd_event_now(event.get(), CLOCK_MONOTONIC, &now), 0);
            attempt_usec.push_back(now);
            wait_after.push_back(0ms);
        }
        if (c.reconnect_delay != 0ms)
            wait_after.back() = c.reconnect_delay;
        return attempt_usec.size() == 8;
    }));

    const std::vector<std::chrono::milliseconds> expected{10ms, 20ms, 40ms, 80ms, 80ms, 80ms, 80ms};
    EXPECT_EQ(std::vector(wait_after.begin(), wait_after.begin() + 7), expected);
    // Never sooner than scheduled. The first attempt was made before the loop
    // ran, so its time is not the loop's; the others' are.
    for (size_t k = 1; k + 1 < attempt_usec.size(); ++k)
        EXPECT_GE(attempt_usec[k + 1] - attempt_usec[k], toUsec(wait_after[k]))
            << "attempt " << k + 2;

    const CollectorCounters& counters = tcp.counters();
    EXPECT_EQ(counters.connects, 0u);
    EXPECT_FALSE(counters.connected);
    EXPECT_EQ(counters.last_error, "connect: Connection refused");
    EXPECT_EQ(sessions, 0);
    EXPECT_FALSE(tcp.send(makeMessage(1, 64), 3));
    EXPECT_EQ(counters.records_dropped, 3u);
}
