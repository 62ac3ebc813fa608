#include "daemon/bus.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdlib>

namespace l3af::daemon {

namespace {

struct MessageRelease {
    void operator()(sd_bus_message* message) const { sd_bus_message_unref(message); }
};
using MessagePtr = std::unique_ptr<sd_bus_message, MessageRelease>;

struct CredsRelease {
    void operator()(sd_bus_creds* creds) const { sd_bus_creds_unref(creds); }
};
using CredsPtr = std::unique_ptr<sd_bus_creds, CredsRelease>;

// An sd_bus_error that frees itself.
struct BusError {
    sd_bus_error error{};
    ~BusError() { sd_bus_error_free(&error); }
    BusError() = default;
    BusError(const BusError&) = delete;
    BusError& operator=(const BusError&) = delete;
};

std::string busDescription() {
    const char* address = std::getenv(kBusAddressVariable);
    if (address == nullptr || *address == '\0')
        return "the system bus";
    return std::string("the bus at ") + address + " ($" + kBusAddressVariable + ")";
}

std::string formatTimeout(std::chrono::microseconds timeout) {
    using namespace std::chrono;
    if (timeout % seconds(1) == microseconds(0))
        return std::to_string(duration_cast<seconds>(timeout).count()) + " s";
    return std::to_string(duration_cast<milliseconds>(timeout).count()) + " ms";
}

// Reload changes what runs in the kernel. The bus policy lets only root call
// it; this holds even where the policy file is missing. EUID alone is what the
// bus driver knows (GetConnectionUnixUser): nothing is read from /proc, which
// the service's ProtectProc=invisible hides.
int checkReloadCaller(sd_bus_message* message, sd_bus_error* error) {
    sd_bus_creds* raw = nullptr;
    if (int r = sd_bus_query_sender_creds(message, SD_BUS_CREDS_EUID, &raw); r < 0)
        return sd_bus_error_set_errnof(error, -r, "cannot tell who is calling: %s",
                                       std::strerror(-r));
    CredsPtr creds(raw);
    uid_t uid = 0;
    if (sd_bus_creds_get_euid(raw, &uid) < 0)
        return sd_bus_error_set(error, SD_BUS_ERROR_ACCESS_DENIED,
                                "cannot tell who is calling; only root may reload l3afd");
    if (uid != 0 && uid != geteuid())
        return sd_bus_error_set(error, SD_BUS_ERROR_ACCESS_DENIED, "only root may reload l3afd");
    return 0;
}

Result<MessagePtr> callMethod(std::string_view name, const char* member,
                              std::chrono::microseconds timeout) {
    auto bus = openBus();
    if (!bus)
        return std::unexpected(bus.error());
    const std::string destination(name);
    sd_bus_message* raw = nullptr;
    if (int r = sd_bus_message_new_method_call(bus->get(), &raw, destination.c_str(),
                                               kBusObjectPath, kBusInterface, member);
        r < 0)
        return fail(-r, std::string("call ") + member);
    MessagePtr call(raw);
    // The daemon is started by systemd, never by bus activation.
    sd_bus_message_set_auto_start(raw, 0);

    BusError error;
    sd_bus_message* reply = nullptr;
    const int r =
        sd_bus_call(bus->get(), raw, static_cast<uint64_t>(timeout.count()), &error.error, &reply);
    if (r >= 0)
        return MessagePtr(reply);

    const std::string text = error.error.message ? error.error.message : std::strerror(-r);
    if (sd_bus_error_has_names(&error.error, SD_BUS_ERROR_SERVICE_UNKNOWN,
                               SD_BUS_ERROR_NAME_HAS_NO_OWNER))
        return fail(ESRCH, "l3afd is not running (" + destination + " not on the bus)");
    if (sd_bus_error_has_name(&error.error, SD_BUS_ERROR_ACCESS_DENIED))
        return fail(EACCES, std::string(member) + "() denied: " + text);
    if (sd_bus_error_has_names(&error.error, SD_BUS_ERROR_NO_REPLY, SD_BUS_ERROR_TIMEOUT) ||
        r == -ETIMEDOUT)
        return fail(ETIMEDOUT, "l3afd did not answer " + std::string(member) + "() within " +
                                   formatTimeout(timeout));
    if (sd_bus_error_has_name(&error.error, kBusErrorConfigRejected))
        return fail(EINVAL, text);
    if (sd_bus_error_has_name(&error.error, kBusErrorReloadFailed))
        return fail(EIO, text);
    if (sd_bus_error_is_set(&error.error))
        return fail(sd_bus_error_get_errno(&error.error),
                    std::string(member) + "() on " + busDescription() + ": " + text);
    return fail(-r, std::string(member) + "() on " + busDescription());
}

} // namespace

Result<BusPtr> openBus() {
    sd_bus* raw = nullptr;
    const char* address = std::getenv(kBusAddressVariable);
    const std::string what = "connect to " + busDescription();
    if (address == nullptr || *address == '\0') {
        if (int r = sd_bus_open_system(&raw); r < 0)
            return fail(-r, what);
        return BusPtr(raw);
    }
    if (int r = sd_bus_new(&raw); r < 0)
        return fail(-r, what);
    BusPtr bus(raw);
    if (int r = sd_bus_set_address(raw, address); r < 0)
        return fail(-r, what);
    // A message bus, not a peer: say Hello and get a unique name.
    if (int r = sd_bus_set_bus_client(raw, 1); r < 0)
        return fail(-r, what);
    if (int r = sd_bus_start(raw); r < 0)
        return fail(-r, what);
    return bus;
}

const sd_bus_vtable BusService::kVtable[] = {
    SD_BUS_VTABLE_START(0),
    // Access is checked by the bus policy (and Reload by the daemon too), not
    // by sd-bus' default CAP_SYS_ADMIN test, which a hardened caller may lack.
    SD_BUS_METHOD_WITH_NAMES("Reload", "", "", "", "", &BusService::onReload,
                             SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_NAMES("Status", "", "", "s", SD_BUS_PARAM(json), &BusService::onStatus,
                             SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_SIGNAL_WITH_NAMES("Reconciled", "bs", SD_BUS_PARAM(ok) SD_BUS_PARAM(summary), 0),
    SD_BUS_VTABLE_END,
};

Result<std::unique_ptr<BusService>> BusService::start(sd_event* event, BusCallbacks callbacks,
                                                      std::string name) {
    std::unique_ptr<BusService> service(new BusService(std::move(callbacks), std::move(name)));
    auto bus = openBus();
    if (!bus)
        return std::unexpected(bus.error());

    sd_bus_slot* slot = nullptr;
    if (int r = sd_bus_add_object_vtable(bus->get(), &slot, kBusObjectPath, kBusInterface, kVtable,
                                         service.get());
        r < 0)
        return fail(-r, "serve " + std::string(kBusObjectPath) + " on " + busDescription());
    service->object_.reset(slot);

    if (int r = sd_bus_match_signal(bus->get(), &slot, "org.freedesktop.DBus.Local",
                                    "/org/freedesktop/DBus/Local", "org.freedesktop.DBus.Local",
                                    "Disconnected", &BusService::onDisconnected, service.get());
        r < 0)
        return fail(-r, "watch the bus connection");
    service->disconnected_.reset(slot);

    const std::string& own = service->name_;
    if (int r = sd_bus_request_name(bus->get(), own.c_str(), 0); r < 0) {
        if (r == -EEXIST)
            return fail(EEXIST, own + " is owned by another process on " + busDescription() +
                                    ": is l3afd already running?");
        if (r == -EACCES || r == -EPERM)
            return fail(-r, "the bus policy does not let this user own " + own + " on " +
                                busDescription() + " (is org.l3af.l3afd.conf installed?)");
        return fail(-r, "own " + own + " on " + busDescription());
    }
    if (int r = sd_bus_attach_event(bus->get(), event, SD_EVENT_PRIORITY_NORMAL); r < 0)
        return fail(-r, "attach the bus to the event loop");
    service->bus_ = std::move(*bus);
    return service;
}

BusService::~BusService() {
    disconnected_.reset();
    object_.reset();
    if (bus_)
        sd_bus_detach_event(bus_.get());
    bus_.reset();
}

void BusService::emitReconciled(bool ok, const std::string& summary) {
    if (int r = sd_bus_emit_signal(bus_.get(), kBusObjectPath, kBusInterface, "Reconciled", "bs",
                                   static_cast<int>(ok), summary.c_str());
        r < 0)
        spdlog::warn("D-Bus: emit Reconciled: {}", std::strerror(-r));
}

int BusService::onReload(sd_bus_message* message, void* userdata, sd_bus_error* error) {
    auto* self = static_cast<BusService*>(userdata);
    if (int r = checkReloadCaller(message, error); r < 0)
        return r;
    Status done = self->callbacks_.reload();
    if (!done && done.error().code() == EINVAL) // the diagnostics say it all
        return sd_bus_error_set(error, kBusErrorConfigRejected, done.error().context().c_str());
    if (!done)
        return sd_bus_error_set(error, kBusErrorReloadFailed, done.error().message().c_str());
    return sd_bus_reply_method_return(message, "");
}

int BusService::onStatus(sd_bus_message* message, void* userdata, sd_bus_error*) {
    auto* self = static_cast<BusService*>(userdata);
    const std::string status = self->callbacks_.status();
    return sd_bus_reply_method_return(message, "s", status.c_str());
}

int BusService::onDisconnected(sd_bus_message*, void* userdata, sd_bus_error*) {
    auto* self = static_cast<BusService*>(userdata);
    // The daemon goes on (the datapath does not need the bus); reload and
    // status over D-Bus are gone until it restarts. SIGHUP still reloads.
    spdlog::error("D-Bus: disconnected from {}; {} is no longer served", busDescription(),
                  self->name_);
    return 0;
}

Result<std::string> callStatus(std::string_view name, std::chrono::microseconds timeout) {
    auto reply = callMethod(name, "Status", timeout);
    if (!reply)
        return std::unexpected(reply.error());
    const char* json = nullptr;
    if (int r = sd_bus_message_read(reply->get(), "s", &json); r < 0)
        return fail(-r, "read the reply of Status()");
    return std::string(json);
}

Status callReload(std::string_view name, std::chrono::microseconds timeout) {
    auto reply = callMethod(name, "Reload", timeout);
    if (!reply)
        return std::unexpected(reply.error());
    return {};
}

} // namespace l3af::daemon
