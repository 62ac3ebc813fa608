#pragma once

// The layout of what l3afd pins under pin_root (docs/pin-layout.md):
//
//   <pin_root>/<kind>/<name>/<revision>/<object>   programs and maps of a loaded revision
//   <pin_root>/<kind>/<name>/links/<ifname>@<hook> one entry per attachment: the
//                                                  TCX bpf_link, or for cls_bpf and
//                                                  XDP the program the hook runs
//   <pin_root>/program/<name>/maps/<map>           a [[program]]'s maps, shared by
//                                                  its revisions
//
// Everything under pin_root is l3afd's; nothing outside it is touched.

#include "common/error.h"
#include "plan/state.h"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace l3af::kernel {

class PinLayout {
  public:
    explicit PinLayout(std::filesystem::path root) : root_(std::move(root)) {}

    const std::filesystem::path& root() const { return root_; }
    std::filesystem::path function(const std::string& kind, const std::string& name) const {
        return root_ / kind / name;
    }
    std::filesystem::path revision(const std::string& kind, const std::string& name,
                                   const std::string& revision) const {
        return function(kind, name) / revision;
    }
    std::filesystem::path links(const std::string& kind, const std::string& name) const {
        return function(kind, name) / "links";
    }
    std::filesystem::path maps(const std::string& kind, const std::string& name) const {
        return function(kind, name) / "maps";
    }
    std::filesystem::path link(const std::string& kind, const std::string& name,
                               const plan::Attachment& at) const {
        return links(kind, name) / linkFileName(at);
    }

    static std::string linkFileName(const plan::Attachment& at);
    static std::optional<plan::Attachment> parseLinkFileName(const std::string& file);

  private:
    std::filesystem::path root_;
};

// Creates `dir` and its parents; the root must be on a bpf filesystem.
[[nodiscard]] Status makePinDirectory(const std::filesystem::path& dir);

// Whether `path` (or its nearest existing ancestor) lies on a bpf filesystem.
bool onBpfFilesystem(const std::filesystem::path& path);

// Unpins every object below `dir` and removes the directories.
[[nodiscard]] Status removePinTree(const std::filesystem::path& dir);

// Names of the subdirectories / entries of `dir` (empty when it does not exist).
std::vector<std::string> listDirectory(const std::filesystem::path& dir);

} // namespace l3af::kernel
