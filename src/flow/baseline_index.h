#pragma once

// What the drain remembers of the baseline map during one poll: 16 bytes per
// baseline (a 64-bit hash of the key and the export time) instead of the 72 of
// key and baseline, so 1M long-lived flows cost 16 MB, not 72. It answers
// "may this flow have a baseline, and since when was it exported"; the exact
// baseline is then looked up in the kernel for the few flows that are due.
// Hash collisions cost an extra lookup, never a wrong count.

#include "flow/record.h"

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

namespace l3af::flow {

uint64_t hashFlowKey(const flow_key& key);

class BaselineIndex {
  public:
    // Filling: clear(), add() every baseline, then seal() before lookups.
    void clear();
    void add(const flow_key& key, const flow_baseline& baseline);
    void seal();

    bool empty() const { return entries_.empty(); }
    size_t size() const { return entries_.size(); }

    struct Match {
        bool candidate = false; // some baseline may be this flow's: look it up
        // The earliest export time among those that could apply to the flow
        // (earliest: a collision can make a flow due early, then the exact
        // lookup says no; never late).
        std::optional<uint64_t> last_export_ns;
    };
    // Marks the baselines that may be `key`'s as belonging to a live flow.
    Match match(const flow_key& key, const flow_value& value);

    // Baselines that no flow claimed since seal(): left behind by flows that
    // are gone (the daemon died between taking a flow and deleting its
    // baseline).
    size_t unmatched() const { return entries_.size() - matched_count_; }
    bool isUnmatched(const flow_key& key, const flow_baseline& baseline) const;

  private:
    struct Entry {
        uint64_t hash;
        uint64_t exported_ns : 63; // CLOCK_BOOTTIME ns: far below 2^63
        uint64_t matched : 1;      // claimed by a flow since seal()
    };
    // [first, last) of the entries whose hash is `hash`.
    std::pair<size_t, size_t> range(uint64_t hash) const;

    std::vector<Entry> entries_; // sorted by hash, then export time
    // directory_[b]: the first entry whose hash's top `bits_` bits are >= b.
    // Hashes are uniform, so a bucket holds about two entries and a lookup
    // touches two cache lines instead of a binary search's twenty.
    std::vector<uint32_t> directory_;
    unsigned bits_ = 0;
    size_t matched_count_ = 0;
};

} // namespace l3af::flow
