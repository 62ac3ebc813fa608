#pragma once

// Interfaces coming and going, from rtnetlink's link multicast group: the
// daemon watches the socket on its event loop, so that a function waiting
// for its interface attaches as soon as the interface appears, and one whose
// interface was deleted and recreated gets its attachments back.

#include "common/error.h"
#include "common/unique_fd.h"

namespace l3af::kernel {

class LinkEvents {
  public:
    [[nodiscard]] static Result<LinkEvents> open();

    int fd() const { return fd_.get(); }

    // Reads every queued message without blocking; true when one of them
    // created, deleted or renamed an interface. An overrun socket (ENOBUFS)
    // counts as a change: some event was lost.
    bool drain();

  private:
    explicit LinkEvents(UniqueFd fd) : fd_(std::move(fd)) {}
    UniqueFd fd_;
};

} // namespace l3af::kernel
