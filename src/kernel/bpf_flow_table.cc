#include "kernel/bpf_flow_table.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <string>
#include <utility>

namespace l3af::kernel {

namespace {

// A hash bucket never holds more than the map does; past this something is
// wrong with the map rather than with our batch size.
constexpr size_t kMaxBatchSize = size_t{1} << 22;

std::optional<Error> checkMap(int fd, const char* name, bpf_map_type type, uint32_t key_size,
                              uint32_t value_size, uint32_t min_entries = 1) {
    bpf_map_info info{};
    uint32_t len = sizeof info;
    if (int err = bpf_map_get_info_by_fd(fd, &info, &len); err < 0)
        return Error(-err, std::string(name) + " map: get info");
    auto mismatch = [&](const std::string& what, uint32_t got, uint32_t want) {
        return Error(EINVAL, std::string(name) + " map: " + what + " " + std::to_string(got) +
                                 ", expected " + std::to_string(want));
    };
    if (info.type != static_cast<uint32_t>(type))
        return mismatch("type", info.type, type);
    if (info.key_size != key_size)
        return mismatch("key size", info.key_size, key_size);
    if (info.value_size != value_size)
        return mismatch("value size", info.value_size, value_size);
    if (info.max_entries < min_entries)
        return mismatch("max entries", info.max_entries, min_entries);
    return std::nullopt;
}

// Hands every entry of a hash map to `fn`, a batch at a time, optionally
// deleting what it hands out. The batch cursor is a bucket index and each
// call returns whole buckets, so entries already handed out may be deleted
// by `fn` without disturbing the walk.
template <typename Value>
Status
forEachBatch(int fd, const char* map, bool take, std::vector<flow_key>& keys,
             std::vector<Value>& values,
             const std::function<void(std::span<const flow_key>, std::span<const Value>)>& fn) {
    uint32_t cursor = 0;
    bool started = false;
    for (;;) {
        auto count = static_cast<uint32_t>(keys.size());
        LIBBPF_OPTS(bpf_map_batch_opts, opts);
        void* in = started ? &cursor : nullptr;
        const int err =
            take ? bpf_map_lookup_and_delete_batch(fd, in, &cursor, keys.data(), values.data(),
                                                   &count, &opts)
                 : bpf_map_lookup_batch(fd, in, &cursor, keys.data(), values.data(), &count, &opts);
        const int code = err < 0 ? -err : 0;
        if (code == ENOSPC && keys.size() < kMaxBatchSize) {
            // The next bucket alone holds more than a batch; nothing was
            // returned or deleted. Retry from the same bucket with more room.
            keys.resize(keys.size() * 2);
            values.resize(values.size() * 2);
            continue;
        }
        if (code != 0 && code != ENOENT)
            return fail(code,
                        std::string(take ? "lookup and delete batch of " : "lookup batch of ") +
                            map + " map");
        started = true;
        if (count > 0)
            fn(std::span<const flow_key>(keys.data(), count),
               std::span<const Value>(values.data(), count));
        if (code == ENOENT) // the walk is past the last bucket
            return {};
    }
}

} // namespace

BpfFlowTable::BpfFlowTable(int flows_fd, int baseline_fd, int stats_fd, size_t batch_size)
    : flows_fd_(flows_fd), baseline_fd_(baseline_fd), stats_fd_(stats_fd) {
    invalid_ = checkMap(flows_fd, "flows", BPF_MAP_TYPE_HASH, sizeof(flow_key), sizeof(flow_value));
    if (!invalid_)
        invalid_ = checkMap(baseline_fd, "baseline", BPF_MAP_TYPE_HASH, sizeof(flow_key),
                            sizeof(flow_baseline));
    if (!invalid_)
        invalid_ = checkMap(stats_fd, "flow_stats", BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(uint32_t),
                            sizeof(flow_stat_value), FLOW_STAT_MAX);
    const int cpus = libbpf_num_possible_cpus();
    if (!invalid_ && cpus <= 0)
        invalid_ = Error(-cpus, "number of possible CPUs");
    if (invalid_)
        return;
    batch_size = std::max<size_t>(batch_size, 1);
    keys_.resize(batch_size);
    values_.resize(batch_size);
    baselines_.resize(batch_size);
    // Per-CPU values are copied out at an 8-byte stride; flow_stat_value is 16.
    static_assert(sizeof(flow_stat_value) % 8 == 0);
    per_cpu_.resize(static_cast<size_t>(cpus));
}

Status BpfFlowTable::valid() const {
    if (invalid_)
        return std::unexpected(*invalid_);
    return {};
}

Status BpfFlowTable::readFlows(const flow::FlowBatchFn& fn) {
    if (invalid_)
        return std::unexpected(*invalid_);
    // The baseline reads share keys_; keep values_ as long as keys_.
    values_.resize(keys_.size());
    return forEachBatch<flow_value>(flows_fd_, "flows", false, keys_, values_, fn);
}

Status BpfFlowTable::takeAllFlows(const flow::FlowBatchFn& fn) {
    if (invalid_)
        return std::unexpected(*invalid_);
    values_.resize(keys_.size());
    return forEachBatch<flow_value>(flows_fd_, "flows", true, keys_, values_, fn);
}

Result<std::optional<flow_value>> BpfFlowTable::takeFlow(const flow_key& key) {
    if (invalid_)
        return std::unexpected(*invalid_);
    flow_value value{};
    // One syscall that copies the value out and unlinks the entry under the
    // bucket lock, so packets counted up to then are in `value`.
    if (int err = bpf_map_lookup_and_delete_elem(flows_fd_, &key, &value); err < 0) {
        if (err == -ENOENT)
            return std::nullopt;
        return fail(-err, "lookup and delete in flows map");
    }
    return value;
}

Status BpfFlowTable::readBaselines(const flow::BaselineBatchFn& fn) {
    if (invalid_)
        return std::unexpected(*invalid_);
    baselines_.resize(keys_.size());
    return forEachBatch<flow_baseline>(baseline_fd_, "baseline", false, keys_, baselines_, fn);
}

Result<std::optional<flow_baseline>> BpfFlowTable::lookupBaseline(const flow_key& key) {
    if (invalid_)
        return std::unexpected(*invalid_);
    flow_baseline baseline{};
    if (int err = bpf_map_lookup_elem(baseline_fd_, &key, &baseline); err < 0) {
        if (err == -ENOENT)
            return std::nullopt;
        return fail(-err, "lookup in baseline map");
    }
    return baseline;
}

Status BpfFlowTable::writeBaseline(const flow_key& key, const flow_baseline& baseline) {
    if (invalid_)
        return std::unexpected(*invalid_);
    if (int err = bpf_map_update_elem(baseline_fd_, &key, &baseline, BPF_ANY); err < 0)
        return fail(-err, "update baseline map");
    return {};
}

Status BpfFlowTable::deleteBaseline(const flow_key& key) {
    if (invalid_)
        return std::unexpected(*invalid_);
    if (int err = bpf_map_delete_elem(baseline_fd_, &key); err < 0 && err != -ENOENT)
        return fail(-err, "delete from baseline map");
    return {};
}

Status BpfFlowTable::clearBaselines() {
    if (invalid_)
        return std::unexpected(*invalid_);
    baselines_.resize(keys_.size());
    return forEachBatch<flow_baseline>(
        baseline_fd_, "baseline", true, keys_, baselines_,
        [](std::span<const flow_key>, std::span<const flow_baseline>) {});
}

Result<flow::StatsSnapshot> BpfFlowTable::readStats() {
    if (invalid_)
        return std::unexpected(*invalid_);
    auto sum = [&](uint32_t index) -> Result<flow_stat_value> {
        if (int err = bpf_map_lookup_elem(stats_fd_, &index, per_cpu_.data()); err < 0)
            return fail(-err, "lookup in flow_stats map");
        flow_stat_value total{};
        for (const flow_stat_value& cpu : per_cpu_) {
            total.packets += cpu.packets;
            total.octets += cpu.octets;
        }
        return total;
    };
    flow::StatsSnapshot snapshot;
    for (auto [index, slot] : {std::pair{FLOW_STAT_OVERFLOW, &snapshot.overflow},
                               std::pair{FLOW_STAT_NON_IP, &snapshot.non_ip},
                               std::pair{FLOW_STAT_TRUNCATED, &snapshot.truncated}}) {
        auto value = sum(index);
        if (!value)
            return std::unexpected(value.error());
        *slot = *value;
    }
    return snapshot;
}

} // namespace l3af::kernel
