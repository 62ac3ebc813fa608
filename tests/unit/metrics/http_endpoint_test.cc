// The metrics endpoint on a real loopback socket and a real sd-event loop
// (in a thread of its own, so plain blocking clients can talk to it).

#include "daemon/http_endpoint.h"
#include "daemon/metrics.h"
#include "exposition.h"
#include "loop_thread.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <thread>

namespace l3af::daemon {
namespace {

using testing::LoopThread;

// A client socket connected to the endpoint. Reads give up after 30 s so a
// broken server fails the test instead of hanging it.
UniqueFd connectTo(uint16_t port, int family = AF_INET) {
    UniqueFd fd(socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
    timeval timeout{30, 0};
    setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    sockaddr_storage storage{};
    socklen_t length = 0;
    if (family == AF_INET6) {
        auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        in6->sin6_addr = in6addr_loopback;
        length = sizeof *in6;
    } else {
        auto* in = reinterpret_cast<sockaddr_in*>(&storage);
        in->sin_family = AF_INET;
        in->sin_port = htons(port);
        in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        length = sizeof *in;
    }
    if (connect(fd.get(), reinterpret_cast<sockaddr*>(&storage), length) != 0)
        ADD_FAILURE() << "connect: " << std::strerror(errno);
    return fd;
}

void sendAll(const UniqueFd& fd, std::string_view data) {
    while (!data.empty()) {
        const ssize_t n = send(fd.get(), data.data(), data.size(), MSG_NOSIGNAL);
        ASSERT_GT(n, 0) << std::strerror(errno);
        data.remove_prefix(static_cast<size_t>(n));
    }
}

// Everything until the server closes.
std::string readAll(const UniqueFd& fd) {
    std::string out;
    char buffer[65536];
    for (;;) {
        const ssize_t n = recv(fd.get(), buffer, sizeof buffer, 0);
        if (n <= 0)
            break;
        out.append(buffer, static_cast<size_t>(n));
    }
    return out;
}

std::string roundTrip(uint16_t port, std::string_view request, int family = AF_INET) {
    UniqueFd fd = connectTo(port, family);
    sendAll(fd, request);
    return readAll(fd);
}

struct Reply {
    std::string head;
    std::string body;
};

Reply split(const std::string& response) {
    const size_t end = response.find("\r\n\r\n");
    if (end == std::string::npos)
        return {response, ""};
    return {response.substr(0, end + 2), response.substr(end + 4)};
}

// Waits (bounded) until the loop's view satisfies `done`.
template <typename F> bool eventually(LoopThread& loop, F done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
        if (loop.call(done))
            return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
}

class MetricsEndpoint : public ::testing::Test {
  protected:
    void SetUp() override { start(HttpEndpoint::Limits{}); }
    void TearDown() override {
        loop_.call([this] { endpoint_.reset(); });
    }

    void start(HttpEndpoint::Limits limits, std::string body = "") {
        loop_.call([&] {
            endpoint_.reset();
            std::map<std::string, HttpHandler> routes;
            routes["/metrics"] = [this] {
                return HttpResponse{200, kMetricsContentType, registry_.render()};
            };
            if (!body.empty())
                routes["/big"] = [body] { return HttpResponse{200, "text/plain", body}; };
            auto endpoint = HttpEndpoint::listen(loop_.event(), "127.0.0.1:0", routes, limits);
            ASSERT_TRUE(endpoint) << endpoint.error().message();
            endpoint_ = std::move(*endpoint);
            port_ = endpoint_->port();
        });
    }

    size_t openConnections() {
        return loop_.call([this] { return endpoint_->openConnections(); });
    }

    LoopThread loop_;
    MetricsRegistry registry_{"9.9.9"};
    std::unique_ptr<HttpEndpoint> endpoint_;
    uint16_t port_ = 0;
};

TEST_F(MetricsEndpoint, GetMetricsReturnsTheExposition) {
    MetricsSnapshot snapshot;
    snapshot.reconcile.runs = 42;
    snapshot.collectors.push_back(
        CollectorMetrics{.name = "soc", .transport = "udp", .records_sent = 1234567});
    loop_.call([&] { registry_.update(snapshot); });

    const Reply reply =
        split(roundTrip(port_, "GET /metrics HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n\r\n"));
    EXPECT_TRUE(reply.head.starts_with("HTTP/1.1 200 OK\r\n")) << reply.head;
    EXPECT_NE(reply.head.find("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"),
              std::string::npos);
    EXPECT_NE(reply.head.find("Content-Length: " + std::to_string(reply.body.size()) + "\r\n"),
              std::string::npos);
    EXPECT_NE(reply.head.find("Connection: close\r\n"), std::string::npos);
    auto samples = testing::parseSamples(reply.body);
    EXPECT_EQ(samples["l3af_reconcile_runs_total"], 42);
    EXPECT_EQ(samples["l3af_collector_sent_records_total{collector=\"soc\",transport=\"udp\"}"],
              1234567);
    EXPECT_EQ(samples["l3af_build_info{version=\"9.9.9\"}"], 1);

    if (auto promtool = testing::findPromtool()) {
        const auto check = testing::promtoolCheck(*promtool, reply.body);
        EXPECT_EQ(check.exit_code, 0) << check.output;
    }
    EXPECT_TRUE(eventually(loop_, [this] { return endpoint_->openConnections() == 0; }));
}

TEST_F(MetricsEndpoint, AnswersHttp10AndBareLineFeeds) {
    EXPECT_TRUE(roundTrip(port_, "GET /metrics HTTP/1.0\r\n\r\n").starts_with("HTTP/1.1 200 OK"));
    EXPECT_TRUE(roundTrip(port_, "GET /metrics HTTP/1.0\n\n").starts_with("HTTP/1.1 200 OK"));
    EXPECT_TRUE(
        roundTrip(port_, "GET /metrics?name[]=x HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 200 OK"));
}

TEST_F(MetricsEndpoint, OtherPathsAreNotFound) {
    EXPECT_TRUE(roundTrip(port_, "GET / HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404 Not Found"));
    EXPECT_TRUE(
        roundTrip(port_, "GET /metricsx HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404 Not Found"));
}

TEST_F(MetricsEndpoint, OnlyGetAndHeadAreAllowed) {
    const Reply reply =
        split(roundTrip(port_, "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n"));
    EXPECT_TRUE(reply.head.starts_with("HTTP/1.1 405 Method Not Allowed")) << reply.head;
    EXPECT_NE(reply.head.find("Allow: GET, HEAD\r\n"), std::string::npos);
}

TEST_F(MetricsEndpoint, HeadSendsNoBody) {
    const std::string full = roundTrip(port_, "GET /metrics HTTP/1.1\r\n\r\n");
    const std::string head = roundTrip(port_, "HEAD /metrics HTTP/1.1\r\n\r\n");
    EXPECT_EQ(head, split(full).head + "\r\n");
}

TEST_F(MetricsEndpoint, GarbageIsABadRequest) {
    EXPECT_TRUE(roundTrip(port_, "HELLO\r\n\r\n").starts_with("HTTP/1.1 400 Bad Request"));
    EXPECT_TRUE(roundTrip(port_, "GET /metrics SPDY/3\r\n\r\n").starts_with("HTTP/1.1 400"));
}

TEST_F(MetricsEndpoint, OversizedRequestGets431AndTheEndpointGoesOn) {
    const std::string huge =
        "GET /metrics HTTP/1.1\r\nX-Padding: " + std::string(64 * 1024, 'a') + "\r\n\r\n";
    EXPECT_TRUE(roundTrip(port_, huge).starts_with("HTTP/1.1 431 Request Header Fields Too Large"));
    EXPECT_TRUE(roundTrip(port_, "GET /metrics HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 200 OK"));
}

// Clients that connect and say nothing, or half a request, hold a slot each
// but never stop the loop from serving the others.
TEST_F(MetricsEndpoint, IdleAndSlowClientsDoNotBlockOthers) {
    std::vector<UniqueFd> idle;
    for (int i = 0; i < 20; i++)
        idle.push_back(connectTo(port_));
    UniqueFd slow = connectTo(port_);
    sendAll(slow, "GET /metr");
    ASSERT_TRUE(eventually(loop_, [this] { return endpoint_->openConnections() == 21; }));

    EXPECT_TRUE(roundTrip(port_, "GET /metrics HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 200 OK"));

    sendAll(slow, "ics HTTP/1.1\r\n\r\n");
    EXPECT_TRUE(readAll(slow).starts_with("HTTP/1.1 200 OK"));
}

TEST_F(MetricsEndpoint, ConnectionsBeyondTheLimitAreClosedAtOnce) {
    start({.max_request_bytes = 8192, .max_connections = 2, .connection_timeout_usec = 60'000'000});
    UniqueFd first = connectTo(port_);
    UniqueFd second = connectTo(port_);
    ASSERT_TRUE(eventually(loop_, [this] { return endpoint_->openConnections() == 2; }));

    UniqueFd third = connectTo(port_);
    EXPECT_EQ(readAll(third), ""); // accepted, then closed without a word

    first.reset();
    ASSERT_TRUE(eventually(loop_, [this] { return endpoint_->openConnections() == 1; }));
    EXPECT_TRUE(roundTrip(port_, "GET /metrics HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 200 OK"));
}

TEST_F(MetricsEndpoint, SilentClientIsDroppedAfterTheTimeout) {
    start({.max_request_bytes = 8192, .max_connections = 64, .connection_timeout_usec = 50'000});
    UniqueFd silent = connectTo(port_);
    EXPECT_EQ(readAll(silent), ""); // the server closed it without a word
    EXPECT_TRUE(eventually(loop_, [this] { return endpoint_->openConnections() == 0; }));
}

// A body far larger than the socket buffers goes out in pieces as the client
// reads, through EPOLLOUT, without holding the loop.
TEST_F(MetricsEndpoint, LargeBodyArrivesWhole) {
    std::string body(8 << 20, 'x');
    for (size_t i = 0; i < body.size(); i += 4096)
        body[i] = static_cast<char>('a' + (i / 4096) % 26);
    start(HttpEndpoint::Limits{}, body);
    UniqueFd fd = connectTo(port_);
    sendAll(fd, "GET /big HTTP/1.1\r\n\r\n");
    // While this client has not read yet, others are still served.
    EXPECT_TRUE(roundTrip(port_, "GET /metrics HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 200 OK"));
    const Reply reply = split(readAll(fd));
    EXPECT_TRUE(reply.head.starts_with("HTTP/1.1 200 OK"));
    EXPECT_EQ(reply.body, body);
}

TEST_F(MetricsEndpoint, ClientThatLeavesEarlyIsCleanedUp) {
    {
        UniqueFd fd = connectTo(port_);
        sendAll(fd, "GET /metrics HTTP/1.1\r\n\r\n");
    }
    EXPECT_TRUE(eventually(loop_, [this] { return endpoint_->openConnections() == 0; }));
    EXPECT_TRUE(roundTrip(port_, "GET /metrics HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 200 OK"));
}

TEST(MetricsEndpointListen, ServesIpv6Loopback) {
    LoopThread loop;
    MetricsRegistry registry("9.9.9");
    auto endpoint = loop.call([&] { return serveMetrics(loop.event(), "[::1]:0", registry); });
    if (!endpoint && endpoint.error().code() == EADDRNOTAVAIL)
        GTEST_SKIP() << "no IPv6 loopback here";
    ASSERT_TRUE(endpoint) << endpoint.error().message();
    const uint16_t port = (*endpoint)->port();
    EXPECT_EQ(formatSocketAddress((*endpoint)->boundAddress()), "[::1]:" + std::to_string(port));
    EXPECT_TRUE(
        roundTrip(port, "GET /metrics HTTP/1.1\r\n\r\n", AF_INET6).starts_with("HTTP/1.1 200 OK"));
    loop.call([&] { endpoint->reset(); });
}

TEST(MetricsEndpointListen, PortInUseIsAnError) {
    LoopThread loop;
    MetricsRegistry registry("9.9.9");
    loop.call([&] {
        auto first = serveMetrics(loop.event(), "127.0.0.1:0", registry);
        ASSERT_TRUE(first) << first.error().message();
        const std::string taken = formatSocketAddress((*first)->boundAddress());
        auto second = serveMetrics(loop.event(), taken, registry);
        ASSERT_FALSE(second);
        EXPECT_EQ(second.error().code(), EADDRINUSE);
        EXPECT_EQ(second.error().message(),
                  "metrics: listen on " + taken + ": bind: " + std::strerror(EADDRINUSE));
    });
}

TEST(ListenAddress, AcceptsIpLiteralsWithPorts) {
    for (const char* text :
         {"127.0.0.1:9469", "0.0.0.0:0", "[::1]:9469", "[::]:65535", "[2001:db8::1]:80"}) {
        auto parsed = parseListenAddress(text);
        ASSERT_TRUE(parsed) << text << ": " << parsed.error().message();
        EXPECT_EQ(formatSocketAddress(*parsed), text);
    }
}

TEST(ListenAddress, RejectsNamesAndMalformedText) {
    for (const char* text :
         {"localhost:9469", "127.0.0.1", "::1:9469", "[::1]9469", "[::1]:", "[127.0.0.1]:80",
          "127.0.0.1:65536", "127.0.0.1:x", ":9469", "[::1:9469"}) {
        auto parsed = parseListenAddress(text);
        ASSERT_FALSE(parsed) << text;
        EXPECT_EQ(parsed.error().code(), EINVAL) << text;
        EXPECT_NE(parsed.error().message().find(text), std::string::npos)
            << parsed.error().message();
    }
}

TEST(HttpRequestLine, ParsesMethodPathAndVersion) {
    auto line = parseRequestLine("GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\n");
    ASSERT_TRUE(line);
    EXPECT_EQ(line->method, "GET");
    EXPECT_EQ(line->path, "/metrics");
    EXPECT_EQ(line->version, "HTTP/1.1");
    for (const char* bad :
         {"", "GET", "GET /metrics", "GET  /metrics HTTP/1.1", "get /metrics HTTP/1.1",
          "GET metrics HTTP/1.1", "GET /metrics HTTP/2", "GET /metrics HTTP/1.1 extra"})
        EXPECT_FALSE(parseRequestLine(bad)) << bad;
}

} // namespace
} // namespace l3af::daemon
