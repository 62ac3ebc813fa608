// The pure parts of the transports: the message-aligned send queue, the
// reconnect backoff and address parsing.

#include "export/backoff.h"
#include "export/send_queue.h"
#include "export/socket_address.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>

#include <array>
#include <vector>

using namespace l3af::exporter;
using namespace std::chrono_literals;

namespace {

std::vector<uint8_t> bytes(size_t n, uint8_t first) {
    std::vector<uint8_t> out(n);
    for (size_t i = 0; i < n; ++i)
        out[i] = static_cast<uint8_t>(first + i);
    return out;
}

// What gather() would hand the socket, flattened.
std::vector<uint8_t> pending(const SendQueue& queue) {
    std::array<iovec, 16> iov;
    std::vector<uint8_t> out;
    size_t n = queue.gather(iov);
    for (size_t i = 0; i < n; ++i) {
        auto* base = static_cast<const uint8_t*>(iov[i].iov_base);
        out.insert(out.end(), base, base + iov[i].iov_len);
    }
    return out;
}

} // namespace

TEST(SendQueue, AcceptsWholeMessagesUpToTheLimit) {
    SendQueue queue(100);
    EXPECT_TRUE(queue.push(bytes(60, 0), 3));
    EXPECT_TRUE(queue.push(bytes(40, 60), 2));
    EXPECT_FALSE(queue.push(bytes(1, 100), 1)); // one byte over: dropped whole
    EXPECT_EQ(queue.bytes(), 100u);
    EXPECT_EQ(queue.messages(), 2u);
    EXPECT_EQ(pending(queue), bytes(100, 0));
}

TEST(SendQueue, RejectsAMessageLargerThanTheLimit) {
    SendQueue queue(10);
    EXPECT_FALSE(queue.push(bytes(11, 0), 1));
    EXPECT_TRUE(queue.empty());
}

TEST(SendQueue, KeepsTheRemainderOfAPartlyWrittenMessageEvenPastTheLimit) {
    SendQueue queue(10);
    auto message = bytes(50, 0);
    queue.pushRemainder(message, 20, 4);
    EXPECT_EQ(queue.bytes(), 30u);
    EXPECT_EQ(pending(queue), bytes(30, 20));
    EXPECT_FALSE(queue.push(bytes(1, 0), 1)); // full now

    // The message counts whole once its last byte is written.
    SendQueue::Tally done = queue.consume(29);
    EXPECT_EQ(done.messages, 0u);
    done = queue.consume(1);
    EXPECT_EQ(done.messages, 1u);
    EXPECT_EQ(done.bytes, 50u);
    EXPECT_EQ(done.records, 4u);
    EXPECT_TRUE(queue.empty());
}

TEST(SendQueue, ConsumesAcrossMessageBoundaries) {
    SendQueue queue(1000);
    ASSERT_TRUE(queue.push(bytes(10, 0), 1));
    ASSERT_TRUE(queue.push(bytes(20, 10), 2));
    ASSERT_TRUE(queue.push(bytes(30, 30), 3));

    SendQueue::Tally done = queue.consume(15); // first whole, 5 of the second
    EXPECT_EQ(done.messages, 1u);
    EXPECT_EQ(done.bytes, 10u);
    EXPECT_EQ(done.records, 1u);
    EXPECT_EQ(pending(queue), bytes(45, 15));

    done = queue.consume(45);
    EXPECT_EQ(done.messages, 2u);
    EXPECT_EQ(done.bytes, 50u);
    EXPECT_EQ(done.records, 5u);
    EXPECT_TRUE(queue.empty());
    EXPECT_EQ(queue.bytes(), 0u);
}

TEST(SendQueue, GatherStopsAtTheIovecCount) {
    SendQueue queue(1000);
    for (uint8_t i = 0; i < 5; ++i)
        ASSERT_TRUE(queue.push(bytes(2, static_cast<uint8_t>(2 * i)), 1));
    std::array<iovec, 3> iov;
    EXPECT_EQ(queue.gather(iov), 3u);
}

TEST(SendQueue, ClearCountsAPartlyWrittenMessageAsLost) {
    SendQueue queue(1000);
    queue.pushRemainder(bytes(40, 0), 10, 2);
    ASSERT_TRUE(queue.push(bytes(20, 0), 5));
    queue.consume(5);
    SendQueue::Tally lost = queue.clear();
    EXPECT_EQ(lost.messages, 2u);
    EXPECT_EQ(lost.bytes, 60u);
    EXPECT_EQ(lost.records, 7u);
    EXPECT_TRUE(queue.empty());
    EXPECT_EQ(queue.bytes(), 0u);
}

TEST(Backoff, DoublesUpToTheCapAndRestartsAfterReset) {
    Backoff backoff(250ms, 1500ms);
    EXPECT_EQ(backoff.next(), 250ms);
    EXPECT_EQ(backoff.next(), 500ms);
    EXPECT_EQ(backoff.next(), 1000ms);
    EXPECT_EQ(backoff.next(), 1500ms);
    EXPECT_EQ(backoff.next(), 1500ms);
    backoff.reset();
    EXPECT_EQ(backoff.next(), 250ms);
}

TEST(Backoff, CapBelowInitialWins) {
    Backoff backoff(250ms, 100ms);
    EXPECT_EQ(backoff.next(), 100ms);
    EXPECT_EQ(backoff.next(), 100ms);
}

TEST(Backoff, NeverZero) {
    Backoff backoff(0ms, 0ms);
    EXPECT_EQ(backoff.next(), 1ms);
}

TEST(SocketAddress, ParsesV4AndV6Literals) {
    auto v4 = parseSocketAddress("192.0.2.10", 4739);
    ASSERT_TRUE(v4.has_value());
    EXPECT_EQ(v4->family(), AF_INET);
    EXPECT_EQ(v4->length, sizeof(sockaddr_in));
    EXPECT_EQ(ntohs(reinterpret_cast<const sockaddr_in*>(v4->get())->sin_port), 4739);

    auto v6 = parseSocketAddress("2001:db8::1", 4740);
    ASSERT_TRUE(v6.has_value());
    EXPECT_EQ(v6->family(), AF_INET6);
    EXPECT_EQ(v6->length, sizeof(sockaddr_in6));
    EXPECT_EQ(ntohs(reinterpret_cast<const sockaddr_in6*>(v6->get())->sin6_port), 4740);
}

TEST(SocketAddress, RejectsNames) {
    auto parsed = parseSocketAddress("collector.example", 4739);
    ASSERT_FALSE(parsed.has_value());
    EXPECT_EQ(parsed.error().code(), EINVAL);
    EXPECT_EQ(parsed.error().context(), "'collector.example' is not an IPv4 or IPv6 address");
}
