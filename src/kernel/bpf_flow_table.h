#pragma once

// The flow table behind flow::FlowTable: the `flows` and `baseline` hash maps
// and the per-CPU `flow_stats` array of a loaded flow.bpf.c, read and emptied
// in batches (BPF_MAP_LOOKUP_BATCH, BPF_MAP_LOOKUP_AND_DELETE_BATCH).
//
// The map fds are borrowed: whoever opened the maps (the skeleton, or the
// UniqueFds of their pins) keeps them open for the table's lifetime.

#include "flow/flow_table.h"

#include <cstddef>
#include <optional>
#include <vector>

namespace l3af::kernel {

class BpfFlowTable final : public flow::FlowTable {
  public:
    static constexpr size_t kDefaultBatchSize = 4096;

    // Checks the maps' types and sizes against flow_abi.h; if they do not
    // match, every call fails with that error (see valid()) instead of
    // letting the kernel write past a buffer.
    BpfFlowTable(int flows_fd, int baseline_fd, int stats_fd,
                 size_t batch_size = kDefaultBatchSize);

    // Whether the maps are the ones flow_abi.h describes.
    [[nodiscard]] Status valid() const;

    [[nodiscard]] Status readFlows(const flow::FlowBatchFn& fn) override;
    [[nodiscard]] Result<std::optional<flow_value>> takeFlow(const flow_key& key) override;
    [[nodiscard]] Status takeAllFlows(const flow::FlowBatchFn& fn) override;
    [[nodiscard]] Status readBaselines(const flow::BaselineBatchFn& fn) override;
    [[nodiscard]] Result<std::optional<flow_baseline>> lookupBaseline(const flow_key& key) override;
    [[nodiscard]] Status writeBaseline(const flow_key& key, const flow_baseline& baseline) override;
    [[nodiscard]] Status deleteBaseline(const flow_key& key) override;
    [[nodiscard]] Status clearBaselines() override;
    [[nodiscard]] Result<flow::StatsSnapshot> readStats() override;

    // Entries fetched per batch call right now: starts at the batch size and
    // grows when the kernel finds a hash bucket larger than a batch (ENOSPC).
    size_t batchCapacity() const { return keys_.size(); }

  private:
    int flows_fd_;
    int baseline_fd_;
    int stats_fd_;
    std::optional<Error> invalid_; // set when the maps do not match the ABI
    // Reused by every batch read; one read at a time.
    std::vector<flow_key> keys_;
    std::vector<flow_value> values_;
    std::vector<flow_baseline> baselines_;
    std::vector<flow_stat_value> per_cpu_; // one flow_stat_value per possible CPU
};

} // namespace l3af::kernel
