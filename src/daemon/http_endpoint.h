#pragma once

// A tiny HTTP/1.x responder that lives on the daemon's sd-event loop: enough
// for a Prometheus scrape, and nothing that could stall the loop. Every socket
// is non-blocking, a connection answers one request and is closed, requests
// are bounded in size, connections in number and each in time.
//
// Why not prometheus-cpp's Exposer: it runs civetweb in threads of its own,
// and the daemon is one thread by design (STYLE.md, rule 7).

#include "common/error.h"
#include "common/sd_event.h"
#include "common/unique_fd.h"
#include "export/socket_address.h"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace l3af::daemon {

struct HttpResponse {
    int status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
};

// Makes the answer to a GET (or HEAD) of one path, when it is asked for.
using HttpHandler = std::function<HttpResponse()>;

// "host:port" or "[v6]:port" with IP literals only (a daemon must not wait on
// DNS). Port 0 asks the kernel for a free port, which tests use.
[[nodiscard]] Result<exporter::SocketAddress> parseListenAddress(std::string_view text);

// "127.0.0.1:9469", "[::1]:9469".
std::string formatSocketAddress(const exporter::SocketAddress& address);

// The request line of an HTTP/1.x request head: "GET /metrics HTTP/1.1".
struct HttpRequestLine {
    std::string method;
    std::string path; // the target without its query string
    std::string version;
};

// nullopt when the head does not start with a well-formed request line.
std::optional<HttpRequestLine> parseRequestLine(std::string_view head);

// Status line, headers (Content-Length, Connection: close) and, unless
// `with_body` is false (HEAD), the body.
std::string formatResponse(const HttpResponse& response, bool with_body);

// What a request gets: the handler's answer for a known path, 404 for an
// unknown one, 405 for methods other than GET and HEAD, 400 for garbage.
HttpResponse respond(const std::map<std::string, HttpHandler>& routes,
                     const std::optional<HttpRequestLine>& request);

class HttpEndpoint {
  public:
    struct Limits {
        size_t max_request_bytes = 8192;               // the head; longer gets 431
        size_t max_connections = 64;                   // beyond, new connections are closed at once
        uint64_t connection_timeout_usec = 10'000'000; // from accept to close, whatever the state
    };

    // Listens on `address` ("127.0.0.1:9469", "[::1]:0") and serves `routes`
    // (path -> handler) on `event`. Fails when the address does not parse or
    // cannot be bound.
    static Result<std::unique_ptr<HttpEndpoint>> listen(sd_event* event, std::string_view address,
                                                        std::map<std::string, HttpHandler> routes,
                                                        Limits limits);
    static Result<std::unique_ptr<HttpEndpoint>> listen(sd_event* event, std::string_view address,
                                                        std::map<std::string, HttpHandler> routes) {
        return listen(event, address, std::move(routes), Limits{});
    }
    ~HttpEndpoint();

    HttpEndpoint(const HttpEndpoint&) = delete;
    HttpEndpoint& operator=(const HttpEndpoint&) = delete;

    // The address actually bound (the kernel's port when 0 was asked for).
    const exporter::SocketAddress& boundAddress() const { return bound_; }
    uint16_t port() const;
    size_t openConnections() const { return connections_.size(); }

  private:
    class Connection;

    HttpEndpoint(sd_event* event, std::map<std::string, HttpHandler> routes, Limits limits);
    void acceptPending();
    void close(Connection* connection);

    static int onListenReady(sd_event_source* s, int fd, uint32_t revents, void* userdata);
    static int onAcceptRetry(sd_event_source* s, uint64_t usec, void* userdata);

    EventPtr event_;
    std::map<std::string, HttpHandler> routes_;
    Limits limits_;
    exporter::SocketAddress bound_;
    UniqueFd listen_fd_;
    EventSourcePtr listen_source_;
    EventSourcePtr accept_retry_; // armed while accept() is out of file descriptors
    std::map<Connection*, std::unique_ptr<Connection>> connections_;
};

} // namespace l3af::daemon
