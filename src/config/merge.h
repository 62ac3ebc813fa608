#pragma once

// The rules that span files: [daemon] at most once, names unique per kind,
// references to collectors and tunnels resolve, no two flow exporters (and
// no two mirrors) watch the same interface in the same direction. Internal
// to the config folder.

#include "config/document.h"

#include <vector>

namespace l3af::config {

// The merged Config, in document order; problems appended to diagnostics
// (the Config is meaningful only when none were found).
Config mergeDocuments(std::vector<Document> documents, std::vector<Diagnostic>& diagnostics);

} // namespace l3af::config
