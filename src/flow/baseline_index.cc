#include "flow/baseline_index.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>

namespace l3af::flow {

namespace {

// A 64-bit finalizer with full avalanche (splitmix64's).
uint64_t mix(uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

// Directory buckets: about one per two entries, at most 2^24.
constexpr unsigned kMaxDirectoryBits = 24;

} // namespace

uint64_t hashFlowKey(const flow_key& key) {
    static_assert(sizeof(flow_key) % sizeof(uint64_t) == 0);
    std::array<uint64_t, sizeof(flow_key) / sizeof(uint64_t)> words;
    std::memcpy(words.data(), &key, sizeof key);
    uint64_t h = 0x9e3779b97f4a7c15ULL;
    for (uint64_t w : words)
        h = mix(h ^ w) + 0x9e3779b97f4a7c15ULL;
    return h;
}

void BaselineIndex::clear() {
    entries_.clear();
    directory_.clear();
    bits_ = 0;
    matched_count_ = 0;
}

void BaselineIndex::add(const flow_key& key, const flow_baseline& baseline) {
    entries_.push_back({hashFlowKey(key), baseline.exported_ns, 0});
}

void BaselineIndex::seal() {
    std::sort(entries_.begin(), entries_.end(), [](const Entry& a, const Entry& b) {
        return a.hash != b.hash ? a.hash < b.hash : a.exported_ns < b.exported_ns;
    });
    matched_count_ = 0;
    const size_t pairs = entries_.size() / 2;
    bits_ = pairs < 2 ? 0 : std::min<unsigned>(std::bit_width(pairs) - 1, kMaxDirectoryBits);
    const size_t buckets = size_t{1} << bits_;
    directory_.assign(buckets + 1, 0);
    size_t i = 0;
    for (size_t b = 0; b < buckets; b++) {
        while (i < entries_.size() && bits_ > 0 && (entries_[i].hash >> (64 - bits_)) < b)
            i++;
        directory_[b] = static_cast<uint32_t>(i);
    }
    directory_[buckets] = static_cast<uint32_t>(entries_.size());
}

std::pair<size_t, size_t> BaselineIndex::range(uint64_t hash) const {
    if (entries_.empty())
        return {0, 0};
    const size_t b = bits_ > 0 ? hash >> (64 - bits_) : 0;
    size_t first = directory_[b];
    const size_t end = directory_[b + 1];
    while (first < end && entries_[first].hash < hash) // about two entries per bucket
        first++;
    size_t last = first;
    while (last < end && entries_[last].hash == hash)
        last++;
    return {first, last};
}

BaselineIndex::Match BaselineIndex::match(const flow_key& key, const flow_value& value) {
    Match result;
    const auto [first, last] = range(hashFlowKey(key));
    for (size_t i = first; i < last; i++) {
        Entry& e = entries_[i];
        result.candidate = true;
        if (!e.matched) {
            e.matched = 1;
            matched_count_++;
        }
        // Entries of one hash are sorted by export time, so the first that
        // could apply is the earliest.
        if (!result.last_export_ns && e.exported_ns >= value.first_seen_ns)
            result.last_export_ns = static_cast<uint64_t>(e.exported_ns);
    }
    return result;
}

bool BaselineIndex::isUnmatched(const flow_key& key, const flow_baseline& baseline) const {
    const auto [first, last] = range(hashFlowKey(key));
    for (size_t i = first; i < last; i++) {
        if (entries_[i].exported_ns == baseline.exported_ns && !entries_[i].matched)
            return true;
    }
    return false;
}

} // namespace l3af::flow
