#include "dfs/client/client.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "dfs/ns/path.h"
#include "dfs/referral/resolver.h"

namespace dfs::client {
namespace {

using Json = nlohmann::json;

constexpr int kStateVersion = 1;

bool IsIo(const Error& e) { return e.code == make_error_code(Errc::kIo); }

int64_t ToMillis(Clock::TimePoint t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             t.time_since_epoch())
      .count();
}
Clock::TimePoint FromMillis(int64_t ms) {
  return Clock::TimePoint(std::chrono::milliseconds(ms));
}

Error NoReachableTarget(const std::string& prefix,
                        const std::vector<TargetLocation>& targets) {
  std::string names;
  for (const auto& t : targets) names += " " + t.unc;
  return MakeError(Errc::kIo,
                   "no target of " + prefix + " is reachable:" + names);
}

std::string WithSlashes(std::string_view remainder) {
  std::string out(remainder);
  std::replace(out.begin(), out.end(), '\\', '/');
  return out;
}

}  // namespace

std::string_view ClientEventName(ClientEventKind kind) {
  switch (kind) {
    case ClientEventKind::kFailover:
      return "failover";
    case ClientEventKind::kFailback:
      return "failback";
    case ClientEventKind::kTargetDown:
      return "target_down";
    case ClientEventKind::kTargetUp:
      return "target_up";
    case ClientEventKind::kNamespaceServerDown:
      return "namespace_server_down";
  }
  return "unknown";
}

std::string_view TargetStateName(TargetState state) {
  switch (state) {
    case TargetState::kUnknown:
      return "unknown";
    case TargetState::kReachable:
      return "reachable";
    case TargetState::kUnreachable:
      return "unreachable";
  }
  return "unknown";
}

Client::Client(ClientConfig config, ReferralSource& source,
               ReachabilityCheck& check, const Clock& clock, EventSink* events)
    : config_(std::move(config)),
      source_(source),
      check_(check),
      clock_(clock),
      events_(events) {}

void Client::Emit(ClientEvent event) {
  if (events_) events_->OnEvent(event);
}

Result<Client::Entry> Client::BuildEntry(
    const referral::DecodedResponse& response) const {
  if (response.entries.empty()) {
    // MS-DFSC's answer when every target is offline (or, in-site-only,
    // none is in this client's site).
    return Fail(Errc::kNotFound,
                "the namespace lists no online target for this path");
  }
  Entry entry;
  entry.root_referral = response.header_flags & referral::kReferralServers;
  entry.failback = response.header_flags & referral::kTargetFailback;
  entry.ttl_seconds = response.entries.front().ttl;
  entry.expires_at = clock_.Now() + std::chrono::seconds(entry.ttl_seconds);
  for (const auto& e : response.entries) {
    DFS_ASSIGN_OR_RETURN(TargetLocation where,
                         MapTarget(config_, e.network_address));
    entry.targets.push_back(std::move(where));
  }
  return entry;
}

void Client::SetPrefix(Entry& entry, const ns::NormalizedPath& path,
                       size_t components) {
  entry.prefix_components = components;
  entry.prefix = path.display.substr(0, path.display_end[components - 1]);
  entry.prefix_key = "\\\\" + std::string(path.FoldedRange(0, components));
}

Result<Client::Entry> Client::Fetch(const std::string& request_path,
                                    size_t* consumed_units) {
  size_t first;
  {
    std::lock_guard lock(mu_);
    first = preferred_server_;
  }
  const size_t n = config_.namespace_servers.size();
  std::string failures;
  for (size_t k = 0; k < n; ++k) {
    const size_t i = (first + k) % n;
    const std::string& server = config_.namespace_servers[i];
    auto response =
        source_.Fetch(server, request_path, config_.namespace_timeout);
    if (!response) {
      if (!IsIo(response.error())) return Unexpected(response.error());
      Emit({ClientEventKind::kNamespaceServerDown, "", server, "",
            response.error().context});
      failures += (failures.empty() ? "" : "; ") + server + ": " +
                  response.error().context;
      continue;
    }
    {
      std::lock_guard lock(mu_);
      preferred_server_ = i;
    }
    *consumed_units = response->path_consumed / 2;
    return BuildEntry(*response);
  }
  return Fail(Errc::kIo, "no namespace server answered (" + failures + ")");
}

bool Client::IsReachable(const TargetLocation& target, bool force) {
  const auto now = clock_.Now();
  if (!force) {
    std::lock_guard lock(mu_);
    auto it = health_.find(target.key);
    if (it != health_.end() && it->second.state != TargetState::kUnknown &&
        now - it->second.checked_at < config_.recheck_interval &&
        now >= it->second.checked_at) {
      return it->second.state == TargetState::kReachable;
    }
  }
  const bool reachable = check_.Reachable(target);
  TargetState was;
  {
    std::lock_guard lock(mu_);
    Health& h = health_[target.key];
    was = h.state;
    h = {reachable ? TargetState::kReachable : TargetState::kUnreachable,
         clock_.Now()};
  }
  if (reachable && was == TargetState::kUnreachable) {
    Emit({ClientEventKind::kTargetUp, "", target.unc, "", "check passed"});
  } else if (!reachable && was != TargetState::kUnreachable) {
    Emit({ClientEventKind::kTargetDown, "", target.unc, "", "check failed"});
  }
  return reachable;
}

std::optional<size_t> Client::FirstReachable(const Entry& entry, size_t from) {
  const size_t n = entry.targets.size();
  for (size_t k = 0; k < n; ++k) {
    const size_t i = (from + k) % n;
    if (IsReachable(entry.targets[i], false)) return i;
  }
  // Nothing left: targets that a caller reported (rather than a check
  // found) down get a real check before the path is given up, and one
  // that another thread found reachable meanwhile is taken as it is.
  for (size_t k = 0; k < n; ++k) {
    const size_t i = (from + k) % n;
    Health now;
    {
      std::lock_guard lock(mu_);
      auto it = health_.find(entry.targets[i].key);
      if (it != health_.end()) now = it->second;
    }
    if (now.state == TargetState::kReachable) return i;
    if ((now.reported || now.state == TargetState::kUnknown) &&
        IsReachable(entry.targets[i], true)) {
      return i;
    }
  }
  return std::nullopt;
}

std::optional<TargetLocation> Client::Store(const std::string& key,
                                            Entry entry) {
  std::lock_guard lock(mu_);
  entry.generation = next_generation_++;
  std::optional<TargetLocation> was;
  if (auto it = entries_.find(key); it != entries_.end()) {
    was = it->second.targets[it->second.active];
  }
  entries_[key] = std::move(entry);
  TrimLocked();
  return was;
}

void Client::TrimLocked() {
  if (entries_.size() <= config_.max_cache_entries) return;
  const auto now = clock_.Now();
  std::erase_if(entries_,
                [&](const auto& kv) { return kv.second.expires_at <= now; });
  const size_t excess = entries_.size() > config_.max_cache_entries
                            ? entries_.size() - config_.max_cache_entries
                            : 0;
  if (excess == 0) return;
  std::vector<std::map<std::string, Entry>::iterator> order;
  order.reserve(entries_.size());
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    order.push_back(it);
  }
  std::nth_element(order.begin(), order.begin() + (excess - 1), order.end(),
                   [](const auto& a, const auto& b) {
                     return a->second.expires_at < b->second.expires_at;
                   });
  for (size_t i = 0; i < excess; ++i) entries_.erase(order[i]);
}

Resolution Client::View(const Entry& entry, std::string_view remainder,
                        bool from_cache) const {
  Resolution r;
  r.prefix = entry.prefix;
  r.remainder = std::string(remainder);
  r.root_referral = entry.root_referral;
  r.failback = entry.failback;
  r.ttl_seconds = entry.ttl_seconds;
  r.expires_at = entry.expires_at;
  r.from_cache = from_cache;
  r.active = entry.active;
  std::lock_guard lock(mu_);
  for (const auto& t : entry.targets) {
    ResolvedTarget v;
    v.unc = t.unc;
    v.local_root = t.local_root;
    auto h = health_.find(t.key);
    if (h != health_.end()) {
      v.state = h->second.state;
      v.checked_at = h->second.checked_at;
    }
    r.targets.push_back(std::move(v));
  }
  if (!r.targets.empty()) {
    r.local_path = r.targets[r.active].local_root + WithSlashes(remainder);
  }
  return r;
}

Result<Resolution> Client::Resolve(std::string_view path,
                                   bool require_reachable) {
  ns::NormalizedPath np;
  DFS_RETURN_IF_ERROR(ns::NormalizeUnc(path, 2, np));

  // Longest cached prefix first; a folder entry covers all below it.
  std::string key;
  std::optional<Entry> cached;
  {
    std::lock_guard lock(mu_);
    for (size_t i = np.count; i >= 2 && !cached; --i) {
      key = "\\\\" + std::string(np.FoldedRange(0, i));
      auto it = entries_.find(key);
      if (it != entries_.end()) {
        cached = it->second;
        // A root entry stands only for the exact path it was asked for.
        if (cached->root_referral && i != np.count) cached.reset();
      }
    }
  }
  const std::string cached_key = key;
  auto remainder_after = [&](size_t components) {
    return std::string_view(np.display).substr(np.display_end[components - 1]);
  };
  const auto now = clock_.Now();

  if (cached && now < cached->expires_at) {
    Entry entry = std::move(*cached);
    const uint64_t generation = entry.generation;
    auto active = IsReachable(entry.targets[entry.active], false)
                      ? std::optional<size_t>(entry.active)
                      : FirstReachable(entry, entry.active + 1);
    if (!active) {
      if (!require_reachable) {
        return View(entry, remainder_after(entry.prefix_components), true);
      }
      return Unexpected(NoReachableTarget(entry.prefix, entry.targets));
    }
    if (*active != entry.active) {
      const std::string from = entry.targets[entry.active].unc;
      entry.active = *active;
      bool moved = false;
      {
        std::lock_guard lock(mu_);
        auto it = entries_.find(key);
        if (it != entries_.end() && it->second.generation == generation &&
            it->second.active != *active) {
          it->second.active = *active;
          moved = true;
        }
      }
      if (moved) {
        Emit({ClientEventKind::kFailover, entry.prefix, from,
              entry.targets[*active].unc, "active target failed its check"});
      }
    }
    return View(entry, remainder_after(entry.prefix_components), true);
  }

  // Miss or expired: ask a namespace server for the whole path.
  const std::string request_path = np.display.substr(1);
  size_t consumed_units = 0;
  auto fetched = Fetch(request_path, &consumed_units);
  if (!fetched) {
    // Every namespace server is gone: an expired entry is still the best
    // answer there is (the web farm keeps serving).
    if (cached && IsIo(fetched.error())) {
      if (auto active = FirstReachable(*cached, cached->active)) {
        cached->active = *active;
        return View(*cached, remainder_after(cached->prefix_components), true);
      }
    }
    return Unexpected(std::move(fetched).error());
  }
  Entry entry = std::move(fetched).value();
  size_t prefix_components = 0;
  // PathConsumed counts UTF-16 units of what we sent; it must end on one of
  // our component boundaries.
  for (size_t i = 2; i <= np.count; ++i) {
    const size_t units = referral::Utf16Length(
        std::string_view(np.display).substr(1, np.display_end[i - 1] - 1));
    if (units == consumed_units) prefix_components = i;
  }
  if (prefix_components == 0) {
    return Fail(Errc::kCorrupt, "namespace server consumed " +
                                    std::to_string(consumed_units) +
                                    " characters of " + request_path +
                                    ", not a whole component");
  }
  SetPrefix(entry, np, prefix_components);
  key = entry.prefix_key;
  if (entry.root_referral && prefix_components != np.count) {
    key = np.folded;  // see the class comment: exact path only
  }

  // Which target to use: failback returns to the best reachable one; without
  // it, a client that moved stays where it is while that target works.
  std::optional<size_t> active;
  if (cached && !entry.failback) {
    const std::string& was = cached->targets[cached->active].key;
    for (size_t i = 0; i < entry.targets.size(); ++i) {
      if (entry.targets[i].key == was && IsReachable(entry.targets[i], false)) {
        active = i;
        break;
      }
    }
  }
  if (!active) active = FirstReachable(entry, 0);
  entry.active = active.value_or(0);
  if (cached && cached_key != key) {
    std::lock_guard lock(mu_);
    entries_.erase(cached_key);  // the path now belongs to another prefix
  }
  const std::optional<TargetLocation> was = Store(key, entry);
  if (was && active && was->key != entry.targets[*active].key) {
    // A refresh that lands elsewhere than the entry it replaced (once,
    // when several threads refresh at once): back to a better target
    // (failback), or off one the server no longer lists first.
    const bool back = entry.failback && *active == 0;
    Emit({back ? ClientEventKind::kFailback : ClientEventKind::kFailover,
          entry.prefix, was->unc, entry.targets[*active].unc,
          back ? "referral refreshed at the TTL" : "referral refreshed"});
  }
  if (!active && require_reachable) {
    return Unexpected(NoReachableTarget(entry.prefix, entry.targets));
  }
  return View(entry, remainder_after(prefix_components), false);
}

void Client::ReportFailure(std::string_view prefix,
                           std::string_view target_unc) {
  auto where = MapTarget(config_, target_unc);
  if (!where) return;
  const std::string prefix_key = ns::FoldCase(prefix);
  std::vector<ClientEvent> events;
  {
    std::lock_guard lock(mu_);
    Health& h = health_[where->key];
    if (h.state != TargetState::kUnreachable) {
      events.push_back({ClientEventKind::kTargetDown, "", where->unc, "",
                        "an operation on it failed"});
    }
    h = {TargetState::kUnreachable, clock_.Now(), true};
    for (auto& [key, entry] : entries_) {
      if (entry.prefix_key != prefix_key) continue;
      if (entry.targets[entry.active].key == where->key) {
        entry.active = (entry.active + 1) % entry.targets.size();
        if (entry.targets.size() > 1) {
          events.push_back({ClientEventKind::kFailover, entry.prefix,
                            where->unc, entry.targets[entry.active].unc,
                            "an operation on the target failed"});
        }
      }
    }
  }
  for (auto& e : events) Emit(std::move(e));
}

bool Client::CheckNow(std::string_view target_unc) {
  auto where = MapTarget(config_, target_unc);
  return where && IsReachable(*where, true);
}

void Client::Flush() {
  std::lock_guard lock(mu_);
  entries_.clear();
  health_.clear();
}

std::vector<CacheEntryView> Client::Entries() const {
  std::vector<Entry> copy;
  std::vector<std::string> keys;
  {
    std::lock_guard lock(mu_);
    for (const auto& [key, entry] : entries_) {
      keys.push_back(key);
      copy.push_back(entry);
    }
  }
  std::vector<CacheEntryView> out;
  for (size_t i = 0; i < copy.size(); ++i) {
    out.push_back({keys[i], View(copy[i], "", true)});
  }
  return out;
}

std::string Client::ExportState() const {
  std::lock_guard lock(mu_);
  Json doc;
  doc["version"] = kStateVersion;
  doc["preferred_server"] = preferred_server_;
  Json entries = Json::array();
  for (const auto& [key, e] : entries_) {
    Json targets = Json::array();
    for (const auto& t : e.targets) targets.push_back(t.unc);
    entries.push_back({{"key", key},
                       {"prefix", e.prefix},
                       {"root_referral", e.root_referral},
                       {"failback", e.failback},
                       {"ttl", e.ttl_seconds},
                       {"expires_at_ms", ToMillis(e.expires_at)},
                       {"targets", targets},
                       {"active", e.active}});
  }
  doc["entries"] = std::move(entries);
  Json health = Json::object();
  for (const auto& [key, h] : health_) {
    health[key] = {{"state", TargetStateName(h.state)},
                   {"checked_at_ms", ToMillis(h.checked_at)}};
  }
  doc["health"] = std::move(health);
  return doc.dump(1);
}

Status Client::ImportState(std::string_view text) {
  Json doc = Json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return Fail(Errc::kCorrupt, "client cache: not JSON");
  }
  if (!doc.contains("version") || !doc["version"].is_number_integer()) {
    return Fail(Errc::kCorrupt, "client cache: no version");
  }
  if (doc["version"].get<int>() != kStateVersion) {
    return Fail(Errc::kUnsupported, "client cache: version " +
                                        doc["version"].dump() +
                                        ", this client reads version 1");
  }
  std::map<std::string, Entry> entries;
  std::map<std::string, Health> health;
  size_t preferred = 0;
  try {
    preferred = doc.value("preferred_server", size_t{0});
    for (const auto& j : doc.at("entries")) {
      Entry e;
      ns::NormalizedPath prefix;
      if (!ns::NormalizeUnc(j.at("prefix").get<std::string>(), 2, prefix)) {
        return Fail(Errc::kCorrupt,
                    "client cache: bad prefix " + j.at("prefix").dump());
      }
      SetPrefix(e, prefix, prefix.count);
      e.root_referral = j.at("root_referral").get<bool>();
      e.failback = j.at("failback").get<bool>();
      e.ttl_seconds = j.at("ttl").get<uint32_t>();
      e.expires_at = FromMillis(j.at("expires_at_ms").get<int64_t>());
      for (const auto& unc : j.at("targets")) {
        DFS_ASSIGN_OR_RETURN(TargetLocation where,
                             MapTarget(config_, unc.get<std::string>()));
        e.targets.push_back(std::move(where));
      }
      e.active = j.at("active").get<size_t>();
      if (e.targets.empty() || e.active >= e.targets.size()) {
        return Fail(Errc::kCorrupt, "client cache: entry " + e.prefix +
                                        " has no such active target");
      }
      entries[j.at("key").get<std::string>()] = std::move(e);
    }
    for (const auto& [key, j] : doc.at("health").items()) {
      const std::string state = j.at("state").get<std::string>();
      Health h;
      h.state = state == "reachable"     ? TargetState::kReachable
                : state == "unreachable" ? TargetState::kUnreachable
                                         : TargetState::kUnknown;
      h.checked_at = FromMillis(j.at("checked_at_ms").get<int64_t>());
      health[key] = h;
    }
  } catch (const Json::exception& e) {
    return Fail(Errc::kCorrupt, std::string("client cache: ") + e.what());
  }
  std::lock_guard lock(mu_);
  entries_ = std::move(entries);
  health_ = std::move(health);
  TrimLocked();
  for (auto& [key, e] : entries_) e.generation = next_generation_++;
  preferred_server_ =
      preferred < config_.namespace_servers.size() ? preferred : 0;
  return Status::Ok();
}

}  // namespace dfs::client
