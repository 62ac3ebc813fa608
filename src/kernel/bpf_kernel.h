#pragma once

// The real Kernel of the reconcile core: reads back what l3afd pinned under
// pin_root, loads revisions, and attaches them with pinned TCX links.

#include "kernel/pins.h"
#include "plan/executor.h"

namespace l3af::kernel {

class BpfKernel : public plan::Kernel {
  public:
    explicit BpfKernel(std::filesystem::path pin_root) : pins_(std::move(pin_root)) {}

    Result<plan::Observed> observe() override;
    Status load(const plan::DesiredFunction& function) override;
    Status attach(const plan::DesiredFunction& function, const plan::Attachment& at) override;
    Status update(const plan::DesiredFunction& function, const plan::Attachment& at) override;
    Status detach(const std::string& kind, const std::string& name,
                  const plan::Attachment& at) override;
    Status unload(const std::string& kind, const std::string& name,
                  const std::string& revision) override;

    // Detaches and unpins everything l3afd owns under pin_root.
    [[nodiscard]] Status reset();

    const PinLayout& pins() const { return pins_; }

  private:
    Result<int> openRevisionProgram(const std::string& kind, const std::string& name,
                                    const std::string& revision, plan::Hook hook) const;

    PinLayout pins_;
};

// The kinds of function l3afd knows; pin_root/<kind> directories of any
// other name are not l3afd's and are left alone.
const std::vector<std::string>& knownKinds();

} // namespace l3af::kernel
