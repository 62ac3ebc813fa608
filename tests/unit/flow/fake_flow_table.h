#pragma once

// A FlowTable over std::maps that behaves like the kernel one where the drain
// can tell: reads come in batches resumed after the last key handed out (so
// deleting handed-out entries is safe and later ones are still seen), takes
// return the value at the moment of the take, and hooks let a test inject
// packets between a batch read and a take, as the TC program would.

#include "flow/flow_table.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <vector>

namespace l3af::flow::testing {

struct KeyLess {
    bool operator()(const flow_key& a, const flow_key& b) const {
        return std::memcmp(&a, &b, sizeof a) < 0;
    }
};

inline flow_key makeKey(uint32_t n, uint8_t protocol = 6) {
    flow_key key{};
    key.ifindex = 2;
    key.direction = FLOW_DIR_INGRESS;
    key.family = 4;
    key.protocol = protocol;
    key.src_port = static_cast<__be16>(1024 + n % 50000);
    key.dst_port = 443;
    key.src[0] = 10;
    std::memcpy(&key.src[1], &n, 3);
    key.dst[0] = 192;
    key.dst[1] = 0;
    key.dst[2] = 2;
    key.dst[3] = 1;
    return key;
}

class FakeFlowTable : public FlowTable {
  public:
    std::map<flow_key, flow_value, KeyLess> flows;
    std::map<flow_key, flow_baseline, KeyLess> baselines;
    StatsSnapshot stats{};
    size_t batch_size = 3;
    // Traffic that arrives while the daemon works: before every batch but
    // the first of a read, and before each takeFlow.
    std::function<void()> between_batches;
    std::function<void(const flow_key&)> before_take;
    std::optional<Error> fail_write; // writeBaseline fails with this
    int reads = 0;

    // What the TC program does for one packet (ttl 64, tos 0).
    void count(const flow_key& key, uint64_t octets, uint64_t now_ns, uint8_t tcp_flags = 0) {
        auto [it, fresh] = flows.try_emplace(key);
        flow_value& v = it->second;
        if (fresh) {
            v.first_seen_ns = now_ns;
            v.min_ttl = v.max_ttl = 64;
        }
        v.packets++;
        v.octets += octets;
        v.last_seen_ns = std::max<uint64_t>(v.last_seen_ns, now_ns);
        v.tcp_flags |= tcp_flags;
    }

    Status readFlows(const FlowBatchFn& fn) override {
        reads++;
        return walk(flows, fn, false);
    }
    Status takeAllFlows(const FlowBatchFn& fn) override { return walk(flows, fn, true); }
    Result<std::optional<flow_value>> takeFlow(const flow_key& key) override {
        if (before_take)
            before_take(key);
        auto it = flows.find(key);
        if (it == flows.end())
            return std::nullopt;
        flow_value value = it->second;
        flows.erase(it);
        return value;
    }
    Status readBaselines(const BaselineBatchFn& fn) override { return walk(baselines, fn, false); }
    Result<std::optional<flow_baseline>> lookupBaseline(const flow_key& key) override {
        auto it = baselines.find(key);
        if (it == baselines.end())
            return std::nullopt;
        return it->second;
    }
    Status writeBaseline(const flow_key& key, const flow_baseline& baseline) override {
        if (fail_write)
            return std::unexpected(*fail_write);
        baselines[key] = baseline;
        return {};
    }
    Status deleteBaseline(const flow_key& key) override {
        baselines.erase(key);
        return {};
    }
    Status clearBaselines() override {
        baselines.clear();
        return {};
    }
    Result<StatsSnapshot> readStats() override { return stats; }

  private:
    template <typename Value, typename Fn>
    Status walk(std::map<flow_key, Value, KeyLess>& map, const Fn& fn, bool take) {
        std::vector<flow_key> keys;
        std::vector<Value> values;
        std::optional<flow_key> last;
        for (bool first = true;; first = false) {
            if (!first && between_batches)
                between_batches();
            keys.clear();
            values.clear();
            auto it = last ? map.upper_bound(*last) : map.begin();
            while (it != map.end() && keys.size() < batch_size) {
                keys.push_back(it->first);
                values.push_back(it->second);
                it = take ? map.erase(it) : std::next(it);
            }
            if (keys.empty())
                return {};
            last = keys.back();
            fn(std::span<const flow_key>(keys), std::span<const Value>(values));
        }
    }
};

} // namespace l3af::flow::testing
