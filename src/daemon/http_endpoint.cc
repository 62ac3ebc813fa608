#include "daemon/http_endpoint.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <charconv>

namespace l3af::daemon {

namespace {

constexpr int kListenBacklog = 64;
// accept() calls per wakeup: the loop has other work than new scrapers.
constexpr int kAcceptsPerWakeup = 32;
// When accept() runs out of file descriptors the listener pauses this long
// instead of waking the loop again and again for a connection it cannot take.
constexpr uint64_t kAcceptRetryUsec = 1'000'000;
constexpr size_t kReadChunk = 4096;

const char* reasonPhrase(int status) {
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 431:
        return "Request Header Fields Too Large";
    default:
        return "Internal Server Error";
    }
}

HttpResponse plain(int status, std::string body) {
    return HttpResponse{status, "text/plain; charset=utf-8", std::move(body)};
}

// The end of the request head: an empty line, CRLF or bare LF (RFC 9112
// section 2.2 lets a recipient accept a bare LF).
std::optional<size_t> headEnd(std::string_view data) {
    const size_t crlf = data.find("\r\n\r\n");
    const size_t lf = data.find("\n\n");
    if (crlf == std::string_view::npos && lf == std::string_view::npos)
        return std::nullopt;
    return std::min(crlf, lf);
}

bool isToken(std::string_view s) {
    if (s.empty())
        return false;
    for (char c : s) {
        if (c < 'A' || c > 'Z')
            return false;
    }
    return true;
}

} // namespace

Result<exporter::SocketAddress> parseListenAddress(std::string_view text) {
    std::string_view host;
    std::string_view port;
    if (text.starts_with('[')) {
        const size_t close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
            return fail(EINVAL,
                        "listen address '" + std::string(text) + "': expected \"[IPv6]:port\"");
        host = text.substr(1, close - 1);
        port = text.substr(close + 2);
        if (host.find(':') == std::string_view::npos)
            return fail(EINVAL, "listen address '" + std::string(text) +
                                    "': brackets are for IPv6 literals");
    } else {
        const size_t colon = text.rfind(':');
        if (colon == std::string_view::npos)
            return fail(EINVAL, "listen address '" + std::string(text) + "': no ':port'");
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
        if (host.find(':') != std::string_view::npos)
            return fail(EINVAL, "listen address '" + std::string(text) +
                                    "': an IPv6 host is written in brackets, as in [::1]:9469");
    }
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value > 65535)
        return fail(EINVAL, "listen address '" + std::string(text) +
                                "': the port must be a number from 0 to 65535");
    auto address = exporter::parseSocketAddress(std::string(host), static_cast<uint16_t>(value));
    if (!address)
        return std::unexpected(address.error().wrap("listen address '" + std::string(text) + "'"));
    return address;
}

std::string formatSocketAddress(const exporter::SocketAddress& address) {
    char host[INET6_ADDRSTRLEN] = {};
    if (address.family() == AF_INET6) {
        const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&address.storage);
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        return "[" + std::string(host) + "]:" + std::to_string(ntohs(in6->sin6_port));
    }
    const auto* in = reinterpret_cast<const sockaddr_in*>(&address.storage);
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    return std::string(host) + ":" + std::to_string(ntohs(in->sin_port));
}

std::optional<HttpRequestLine> parseRequestLine(std::string_view head) {
    std::string_view line = head.substr(0, head.find('\n'));
    if (line.ends_with('\r'))
        line.remove_suffix(1);
    const size_t first = line.find(' ');
    const size_t second = first == std::string_view::npos ? first : line.find(' ', first + 1);
    if (second == std::string_view::npos || line.find(' ', second + 1) != std::string_view::npos)
        return std::nullopt;
    HttpRequestLine request{std::string(line.substr(0, first)),
                            std::string(line.substr(first + 1, second - first - 1)),
                            std::string(line.substr(second + 1))};
    if (!isToken(request.method) || !request.path.starts_with('/') ||
        !request.version.starts_with("HTTP/1."))
        return std::nullopt;
    request.path = request.path.substr(0, request.path.find('?'));
    return request;
}

std::string formatResponse(const HttpResponse& response, bool with_body) {
    std::string out = "HTTP/1.1 " + std::to_string(response.status) + " " +
                      reasonPhrase(response.status) + "\r\n";
    out += "Content-Type: " + response.content_type + "\r\n";
    out += "Content-Length: " + std::to_string(response.body.size()) + "\r\n";
    if (response.status == 405)
        out += "Allow: GET, HEAD\r\n";
    out += "Connection: close\r\n\r\n";
    if (with_body)
        out += response.body;
    return out;
}

HttpResponse respond(const std::map<std::string, HttpHandler>& routes,
                     const std::optional<HttpRequestLine>& request) {
    if (!request)
        return plain(400, "bad request\n");
    if (request->method != "GET" && request->method != "HEAD")
        return plain(405, "only GET and HEAD\n");
    auto route = routes.find(request->path);
    if (route == routes.end())
        return plain(404, "not found\n");
    return route->second();
}

// One accepted connection: read the request head, write the response, then
// close our side and read until the client closes its own (closing with
// unread input would reset the connection and could lose the response).
class HttpEndpoint::Connection {
  public:
    Connection(HttpEndpoint& owner, UniqueFd fd) : owner_(owner), fd_(std::move(fd)) {}

    Status start(sd_event* event) {
        sd_event_source* io = nullptr;
        if (int r = sd_event_add_io(event, &io, fd_.get(), EPOLLIN, &Connection::onIo, this); r < 0)
            return fail(-r, "watch HTTP connection");
        io_.reset(io);
        sd_event_source* timer = nullptr;
        if (int r = sd_event_add_time_relative(event, &timer, CLOCK_MONOTONIC,
                                               owner_.limits_.connection_timeout_usec,
                                               kTimerAccuracyUsec, &Connection::onTimeout, this);
            r < 0)
            return fail(-r, "arm HTTP connection timeout");
        timer_.reset(timer);
        return {};
    }

  private:
    // Reading: waiting for the end of the head. Writing: the response is
    // being sent. Draining: sent and shut down; waiting for the client's EOF.
    enum class State { Reading, Writing, Draining };

    static int onIo(sd_event_source*, int, uint32_t, void* userdata) {
        auto* self = static_cast<Connection*>(userdata);
        switch (self->state_) {
        case State::Reading:
            self->readRequest();
            break;
        case State::Writing:
            self->writeResponse();
            break;
        case State::Draining:
            self->drain();
            break;
        }
        return 0; // `self` may be gone here
    }

    static int onTimeout(sd_event_source*, uint64_t, void* userdata) {
        auto* self = static_cast<Connection*>(userdata);
        self->owner_.close(self);
        return 0;
    }

    void readRequest() {
        char chunk[kReadChunk];
        for (;;) {
            const ssize_t n = recv(fd_.get(), chunk, sizeof chunk, 0);
            if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return;
            if (n <= 0) {
                owner_.close(this); // EOF or error before a whole request
                return;
            }
            const size_t room = owner_.limits_.max_request_bytes - request_.size();
            request_.append(chunk, std::min(static_cast<size_t>(n), room));
            if (auto end = headEnd(request_)) {
                const auto line = parseRequestLine(std::string_view(request_).substr(0, *end));
                const HttpResponse response = respond(owner_.routes_, line);
                startResponse(formatResponse(response, !line || line->method != "HEAD"));
                return;
            }
            if (request_.size() >= owner_.limits_.max_request_bytes) {
                startResponse(formatResponse(plain(431, "request too large\n"), true));
                return;
            }
        }
    }

    void startResponse(std::string response) {
        request_.clear();
        response_ = std::move(response);
        state_ = State::Writing;
        sd_event_source_set_io_events(io_.get(), EPOLLOUT);
        writeResponse();
    }

    void writeResponse() {
        while (written_ < response_.size()) {
            const ssize_t n = send(fd_.get(), response_.data() + written_,
                                   response_.size() - written_, MSG_NOSIGNAL);
            if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return; // EPOLLOUT brings us back
            if (n < 0) {
                owner_.close(this);
                return;
            }
            written_ += static_cast<size_t>(n);
        }
        shutdown(fd_.get(), SHUT_WR);
        state_ = State::Draining;
        sd_event_source_set_io_events(io_.get(), EPOLLIN);
    }

    void drain() {
        char chunk[kReadChunk];
        for (;;) {
            const ssize_t n = recv(fd_.get(), chunk, sizeof chunk, 0);
            if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return;
            if (n <= 0) {
                owner_.close(this);
                return;
            }
        }
    }

    HttpEndpoint& owner_;
    UniqueFd fd_; // declared before the sources: they go first
    EventSourcePtr io_;
    EventSourcePtr timer_;
    State state_ = State::Reading;
    std::string request_;
    std::string response_;
    size_t written_ = 0;
};

HttpEndpoint::HttpEndpoint(sd_event* event, std::map<std::string, HttpHandler> routes,
                           Limits limits)
    : event_(refEvent(event)), routes_(std::move(routes)), limits_(limits) {}

HttpEndpoint::~HttpEndpoint() {
    connections_.clear();
    accept_retry_.reset();
    listen_source_.reset();
}

Result<std::unique_ptr<HttpEndpoint>>
HttpEndpoint::listen(sd_event* event, std::string_view address,
                     std::map<std::string, HttpHandler> routes, Limits limits) {
    auto parsed = parseListenAddress(address);
    if (!parsed)
        return std::unexpected(parsed.error());
    const std::string what = "listen on " + std::string(address);

    UniqueFd fd(socket(parsed->family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd)
        return failErrno(what + ": socket");
    const int one = 1;
    // A restarted daemon must get its port back while old connections linger
    // in TIME_WAIT.
    if (setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
        return failErrno(what + ": SO_REUSEADDR");
    // "[::]:9469" means IPv6 only: the configured address is all we listen on.
    if (parsed->family() == AF_INET6 &&
        setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0)
        return failErrno(what + ": IPV6_V6ONLY");
    if (bind(fd.get(), parsed->get(), parsed->length) < 0)
        return failErrno(what + ": bind");
    if (::listen(fd.get(), kListenBacklog) < 0)
        return failErrno(what + ": listen");
    exporter::SocketAddress bound;
    bound.length = sizeof bound.storage;
    if (getsockname(fd.get(), reinterpret_cast<sockaddr*>(&bound.storage), &bound.length) < 0)
        return failErrno(what + ": getsockname");

    std::unique_ptr<HttpEndpoint> endpoint(new HttpEndpoint(event, std::move(routes), limits));
    sd_event_source* source = nullptr;
    if (int r = sd_event_add_io(event, &source, fd.get(), EPOLLIN, &HttpEndpoint::onListenReady,
                                endpoint.get());
        r < 0)
        return fail(-r, what + ": watch the socket");
    endpoint->listen_source_.reset(source);
    endpoint->listen_fd_ = std::move(fd);
    endpoint->bound_ = bound;
    return endpoint;
}

uint16_t HttpEndpoint::port() const {
    if (bound_.family() == AF_INET6)
        return ntohs(reinterpret_cast<const sockaddr_in6*>(&bound_.storage)->sin6_port);
    return ntohs(reinterpret_cast<const sockaddr_in*>(&bound_.storage)->sin_port);
}

int HttpEndpoint::onListenReady(sd_event_source*, int, uint32_t, void* userdata) {
    static_cast<HttpEndpoint*>(userdata)->acceptPending();
    return 0;
}

int HttpEndpoint::onAcceptRetry(sd_event_source*, uint64_t, void* userdata) {
    auto* self = static_cast<HttpEndpoint*>(userdata);
    self->accept_retry_.reset();
    sd_event_source_set_enabled(self->listen_source_.get(), SD_EVENT_ON);
    self->acceptPending();
    return 0;
}

void HttpEndpoint::acceptPending() {
    for (int i = 0; i < kAcceptsPerWakeup; i++) {
        UniqueFd fd(accept4(listen_fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
        if (!fd) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            // Out of descriptors or memory: pause the listener, or the
            // level-triggered source would spin on the waiting connection.
            sd_event_source* timer = nullptr;
            if (sd_event_add_time_relative(event_.get(), &timer, CLOCK_MONOTONIC, kAcceptRetryUsec,
                                           kTimerAccuracyUsec, &HttpEndpoint::onAcceptRetry,
                                           this) >= 0) {
                accept_retry_.reset(timer);
                sd_event_source_set_enabled(listen_source_.get(), SD_EVENT_OFF);
            }
            return;
        }
        // Full: closing at once costs the scraper one failed scrape, while
        // queueing would let idle clients hold the endpoint hostage.
        if (connections_.size() >= limits_.max_connections)
            continue;
        auto connection = std::make_unique<Connection>(*this, std::move(fd));
        if (!connection->start(event_.get()))
            continue;
        Connection* key = connection.get();
        connections_.emplace(key, std::move(connection));
    }
}

void HttpEndpoint::close(Connection* connection) {
    // Called from the connection's own callbacks: sd-event defers freeing a
    // source that is being dispatched, so dropping it here is safe.
    connections_.erase(connection);
}

} // namespace l3af::daemon
