#pragma once

// The real Kernel of the reconcile core: reads back what l3afd pinned under
// pin_root and what its hooks run, loads revisions, and attaches them in
// their chains: TCX links, cls_bpf filters or libxdp dispatcher components.

#include "kernel/pins.h"
#include "plan/executor.h"

namespace l3af::kernel {

class BpfKernel : public plan::Kernel {
  public:
    explicit BpfKernel(std::filesystem::path pin_root) : pins_(std::move(pin_root)) {}

    Result<plan::Observed> observeFor(const plan::Desired& desired) override;
    Status load(const plan::DesiredFunction& function) override;
    Status writeMaps(const plan::DesiredFunction& function) override;
    Status attach(const plan::DesiredFunction& function, const plan::Action& action) override;
    Status move(const plan::DesiredFunction& function, const plan::Action& action) override;
    Status update(const plan::DesiredFunction& function, const plan::Action& action) override;
    Status detach(const plan::Action& action) override;
    Status unload(const std::string& kind, const std::string& name,
                  const std::string& revision) override;

    // Detaches and unpins everything l3afd owns under pin_root.
    [[nodiscard]] Status reset();

    const PinLayout& pins() const { return pins_; }

  private:
    Result<int> openRevisionProgram(const std::string& kind, const std::string& name,
                                    const std::string& revision, plan::Hook hook) const;
    // Removes what `action` found (its found_mechanism and found_priority),
    // given the fd of its pin, which the caller has already unpinned.
    Status removeFound(const plan::Action& action, int pinned_fd);

    PinLayout pins_;
};

// The kinds of function l3afd knows; pin_root/<kind> directories of any
// other name are not l3afd's and are left alone.
const std::vector<std::string>& knownKinds();

// The name l3afd gives its cls_bpf filters: "l3af:<kind>/<name>".
std::string clsBpfName(const std::string& kind, const std::string& name);

} // namespace l3af::kernel
