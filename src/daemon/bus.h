#pragma once

// l3afd on D-Bus (sd-bus): the daemon's side (BusService) and the CLI's
// (callStatus, callReload).
//
//   name       org.l3af.l3afd (instances with their own config directory may
//              take org.l3af.l3afd.<instance>; the policy allows the subtree)
//   object     /org/l3af/l3afd
//   interface  org.l3af.l3afd1
//     Reload()                           reads the files and reconciles; returns
//                                        when done, or fails with
//                                        org.l3af.l3afd1.ConfigRejected (the files
//                                        were rejected; nothing changed; the
//                                        message holds the diagnostics) or
//                                        org.l3af.l3afd1.ReloadFailed
//     Status() -> s json                 the document `l3afd status --json`
//                                        prints (status_doc.h), composed when
//                                        called
//     signal Reconciled(b ok, s summary) after every reload or reconcile
//
// Access is the bus policy's job (dbus/org.l3af.l3afd.conf: root only). The
// daemon also refuses Reload() from a caller that is neither root nor its own
// user, in case a policy is missing.
//
// Tests, and labs with a bus of their own, set L3AF_BUS_ADDRESS to a bus
// address ("unix:path=/tmp/x/bus"); both sides then use it instead of the
// system bus.

#include "common/error.h"

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace l3af::daemon {

inline constexpr const char* kBusName = "org.l3af.l3afd";
inline constexpr const char* kBusObjectPath = "/org/l3af/l3afd";
inline constexpr const char* kBusInterface = "org.l3af.l3afd1";
inline constexpr const char* kBusAddressVariable = "L3AF_BUS_ADDRESS";
inline constexpr const char* kBusErrorConfigRejected = "org.l3af.l3afd1.ConfigRejected";
inline constexpr const char* kBusErrorReloadFailed = "org.l3af.l3afd1.ReloadFailed";

struct BusRelease {
    void operator()(sd_bus* bus) const { sd_bus_flush_close_unref(bus); }
};
using BusPtr = std::unique_ptr<sd_bus, BusRelease>;

struct BusSlotRelease {
    void operator()(sd_bus_slot* slot) const { sd_bus_slot_unref(slot); }
};
using BusSlotPtr = std::unique_ptr<sd_bus_slot, BusSlotRelease>;

struct BusCallbacks {
    // Reads the files and reconciles; returns when done. An error whose code
    // is EINVAL means the files were rejected (the caller gets
    // ConfigRejected); any other error, that applying failed (ReloadFailed).
    // The error's message() is what the caller sees.
    std::function<Status()> reload;
    // The status document as JSON text (statusDocument, statusText), composed
    // now: Status() returns it as it is.
    std::function<std::string()> status;
};

// The system bus, or the bus at $L3AF_BUS_ADDRESS when it is set.
[[nodiscard]] Result<BusPtr> openBus();

class BusService {
  public:
    // Connects, serves the object on `event` and takes `name`. Fails when the
    // name is taken (another l3afd) or the policy does not allow this user.
    static Result<std::unique_ptr<BusService>> start(sd_event* event, BusCallbacks callbacks,
                                                     std::string name = kBusName);
    ~BusService();

    BusService(const BusService&) = delete;
    BusService& operator=(const BusService&) = delete;

    const std::string& name() const { return name_; }

    // Broadcasts Reconciled(ok, summary). A failure is logged, not returned:
    // nobody may be listening, and the reload itself went on.
    void emitReconciled(bool ok, const std::string& summary);

  private:
    BusService(BusCallbacks callbacks, std::string name)
        : callbacks_(std::move(callbacks)), name_(std::move(name)) {}

    static const sd_bus_vtable kVtable[];

    static int onReload(sd_bus_message* message, void* userdata, sd_bus_error* error);
    static int onStatus(sd_bus_message* message, void* userdata, sd_bus_error* error);
    static int onDisconnected(sd_bus_message* message, void* userdata, sd_bus_error* error);

    BusCallbacks callbacks_;
    std::string name_;
    BusPtr bus_; // declared before the slots: they go first
    BusSlotPtr object_;
    BusSlotPtr disconnected_;
};

inline constexpr std::chrono::seconds kStatusCallTimeout{10};
// A reload may verify and load several eBPF programs.
inline constexpr std::chrono::seconds kReloadCallTimeout{300};

// Client side. Errors: ESRCH "l3afd is not running (org.l3af.l3afd not on the
// bus)"; EACCES when the policy denies the call; ETIMEDOUT; for Reload, EINVAL
// with the daemon's diagnostics when the files were rejected; otherwise the
// errno of the connection or the daemon's failure. The code is for the
// program; error().context() is the text for a person (message() would add
// strerror of the code to the diagnostics).
[[nodiscard]] Result<std::string>
callStatus(std::string_view name = kBusName,
           std::chrono::microseconds timeout = kStatusCallTimeout);
[[nodiscard]] Status callReload(std::string_view name = kBusName,
                                std::chrono::microseconds timeout = kReloadCallTimeout);

} // namespace l3af::daemon
