#pragma once

// From the files' model to the reconcile core's desired state.

#include "config/model.h"
#include "plan/state.h"

namespace l3af::daemon {

plan::Desired desiredState(const config::Config& config);

} // namespace l3af::daemon
