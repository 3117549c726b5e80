#include "dfs/referral/status_page.h"

#include <nlohmann/json.hpp>

#include "dfs/common/metrics_http.h"
#include "dfs/ns/path.h"
#include "dfs/referral/ordering.h"

namespace dfs::referral {

using nlohmann::json;

namespace {

// "up", "down", or "unprobed" (never probed: counted as up by referrals).
const char* HealthOf(const HealthTable& health, const ns::Target& t) {
  auto known = health.Known(t.server);
  if (!known) return "unprobed";
  return *known ? "up" : "down";
}

json TargetJson(const ns::Target& t, const HealthTable& health) {
  return {{"unc", t.Unc()},
          {"server", t.server},
          {"priority", ns::ToString(t.priority_class)},
          {"rank", t.priority_rank},
          {"state", ns::ToString(t.state)},
          {"health", HealthOf(health, t)},
          {"site", t.site}};
}

json TargetsJson(const std::vector<ns::Target>& targets,
                 ns::OrderingMethod method, const SiteTable& sites,
                 const HealthTable& health, std::string_view key) {
  json out = json::array();
  auto healthy = [&health](const ns::Target& t) { return health.Healthy(t); };
  // In the order a default-site client is given (online targets)...
  for (const OrderedTarget& o :
       DefaultSiteOrder(targets, method, sites, healthy, key)) {
    out.push_back(TargetJson(*o.target, health));
  }
  // ...then the offline ones, which no client is given.
  for (const ns::Target& t : targets) {
    if (t.state != ns::State::kOnline) out.push_back(TargetJson(t, health));
  }
  return out;
}

std::string HttpAnswer(int status, std::string_view reason,
                       std::string_view type, std::string_view body) {
  return HttpResponse(status, reason, type,
                      "Cache-Control: no-store\r\n"
                      "X-Content-Type-Options: nosniff\r\n"
                      "Content-Security-Policy: default-src 'self'; "
                      "script-src 'unsafe-inline'; style-src "
                      "'unsafe-inline'\r\n",
                      body);
}

}  // namespace

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// application/x-www-form-urlencoded: '+' is a space, %XX a byte; a
// malformed escape is kept as it stands.
std::string PercentDecode(std::string_view in) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '+') {
      out.push_back(' ');
    } else if (in[i] == '%' && i + 2 < in.size() && HexValue(in[i + 1]) >= 0 &&
               HexValue(in[i + 2]) >= 0) {
      out.push_back(
          static_cast<char>(HexValue(in[i + 1]) * 16 + HexValue(in[i + 2])));
      i += 2;
    } else {
      out.push_back(in[i]);
    }
  }
  return out;
}

constexpr size_t kMaxOffset = 1'000'000'000;

size_t ParseCount(std::string_view text, size_t fallback, size_t max) {
  size_t value = 0;
  if (text.empty()) return fallback;
  for (char c : text) {
    if (c < '0' || c > '9') return fallback;
    value = value * 10 + static_cast<size_t>(c - '0');
    if (value > max) return max;
  }
  return value;
}

}  // namespace

NamespacePage ParseNamespacePage(std::string_view query) {
  NamespacePage page;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const size_t eq = pair.find('=');
    const std::string_view key = pair.substr(0, eq);
    const std::string_view value =
        eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    if (key == "offset") {
      page.offset = ParseCount(value, 0, kMaxOffset);
    } else if (key == "limit") {
      page.limit = std::max<size_t>(
          1, ParseCount(value, page.limit, kMaxStatusPageFolders));
    } else if (key == "filter") {
      page.filter = PercentDecode(value.substr(0, 3 * kMaxStatusFilterBytes));
      if (page.filter.size() > kMaxStatusFilterBytes) {
        page.filter.resize(kMaxStatusFilterBytes);
      }
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return page;
}

std::string NamespaceJson(const ns::NamespaceIndex& index,
                          const SiteTable& sites, const HealthTable& health,
                          const NamespacePage& page) {
  // Folded once: folders are matched on their folded paths.
  const std::string filter = ns::FoldCase(page.filter);
  size_t matched = 0;  // folders matching the filter, in every root
  json roots = json::array();
  auto listed = index.ListRoots();
  if (listed) {
    for (const ns::RootEntry& e : *listed) {
      const ns::Root& root = e.root;
      json folders = json::array();
      auto in_root = index.ListFolders(e.key);
      if (in_root) {
        for (const ns::Folder& f : *in_root) {
          if (!filter.empty() &&
              ns::FoldCase(root.Path() + "\\" + f.path).find(filter) ==
                  std::string::npos) {
            continue;
          }
          const size_t position = matched++;
          // Only the page's folders are rendered (the rest only counted).
          if (position < page.offset || position - page.offset >= page.limit)
            continue;
          folders.push_back(
              {{"path", root.Path() + "\\" + f.path},
               {"name", f.path},
               {"state", ns::ToString(f.state)},
               {"ttl", f.ttl_seconds},
               {"targets", TargetsJson(f.targets, root.ordering, sites, health,
                                       ns::FoldCase(f.path))}});
        }
      }
      roots.push_back({{"path", root.Path()},
                       {"state", ns::ToString(root.state)},
                       {"ttl", root.ttl_seconds},
                       {"ordering", ns::ToString(root.ordering)},
                       {"servers", TargetsJson(root.targets, root.ordering,
                                               sites, health, e.key)},
                       {"folders", folders}});
    }
  }
  return json{{"serial", index.Serial()},
              {"folder_count", index.folder_count()},
              {"matched", matched},
              {"offset", page.offset},
              {"limit", page.limit},
              {"filter", page.filter},
              {"roots", roots}}
      .dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string HealthJson(const HealthTable& health) {
  json servers = json::array();
  std::map<std::string, bool> sorted(health.servers().begin(),
                                     health.servers().end());
  for (const auto& [name, up] : sorted)
    servers.push_back({{"server", name}, {"up", up}});
  return json{{"servers", servers}, {"down", health.DownCount()}}.dump();
}

std::string ReferralsJson(const std::map<std::string, uint64_t>& counts,
                          int64_t unix_millis) {
  uint64_t total = 0;
  for (const auto& [path, n] : counts) total += n;
  return json{{"at_ms", unix_millis}, {"total", total}, {"paths", counts}}
      .dump();
}

std::optional<std::string> StatusHttpResponse(std::string_view request,
                                              const StatusSources& sources,
                                              bool allowed) {
  const auto get = ParseHttpGet(request);
  if (!get) return std::nullopt;
  const std::string_view path = get->path;
  const bool page = path == "/" || path == "/index.html";
  const bool api = path == "/api/namespace" || path == "/api/health" ||
                   path == "/api/referrals" || path == "/api/replication";
  if (!page && !api) return std::nullopt;
  if (!allowed) {
    return HttpAnswer(403, "Forbidden", "text/plain; charset=utf-8",
                      "the status page is served on a loopback metrics "
                      "address only (dfsd --metrics 127.0.0.1:PORT)\n");
  }
  if (page) {
    return HttpAnswer(200, "OK", "text/html; charset=utf-8", StatusPageHtml());
  }
  const std::string body =
      path == "/api/namespace"
          ? sources.namespace_json(ParseNamespacePage(get->query))
      : path == "/api/health"    ? sources.health_json()
      : path == "/api/referrals" ? sources.referrals_json()
      : sources.replication_json ? sources.replication_json()
                                 : R"({"configured":0,"groups":[]})";
  return HttpAnswer(200, "OK", "application/json", body);
}

std::string_view StatusPageHtml() {
  static constexpr std::string_view kPage = R"PAGE(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>dfsd status</title>
<style>
  body { font: 14px system-ui, sans-serif; margin: 1.5em; color: #1d2330; }
  h1 { font-size: 1.3em; margin: 0 0 .2em; }
  #meta { color: #667; margin-bottom: 1em; }
  .root { border: 1px solid #ccd; border-radius: 6px; margin: 0 0 1em; padding: .6em .9em; }
  .root > h2 { font-size: 1.1em; margin: .1em 0 .5em; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: .25em .6em; border-bottom: 1px solid #eef; vertical-align: top; }
  th { color: #556; font-weight: 600; }
  .target { white-space: nowrap; }
  .dot { display: inline-block; width: .7em; height: .7em; border-radius: 50%; margin-right: .4em; }
  .up .dot { background: #2a9d4b; }
  .down .dot { background: #d3312f; }
  .unprobed .dot { background: #9aa0aa; }
  .offline { color: #999; text-decoration: line-through; }
  .rate { text-align: right; font-variant-numeric: tabular-nums; }
  .error { color: #d3312f; }
  #pager { margin: 0 0 1em; color: #556; }
  #replication h2.section { font-size: 1.15em; margin: 1.2em 0 .5em; }
  .group { border: 1px solid #ccd; border-radius: 6px; margin: 0 0 1em; padding: .6em .9em; }
  .group > h3 { font-size: 1.05em; margin: .1em 0 .5em; }
  .connected .dot { background: #2a9d4b; }
  .disconnected .dot, .unreachable .dot { background: #d3312f; }
  .num { text-align: right; font-variant-numeric: tabular-nums; }
  .behind { color: #b25f00; font-weight: 600; }
  .stale { color: #999; }
</style>
</head>
<body>
<h1>dfsd status</h1>
<div id="meta">loading…</div>
<div id="pager"><input id="filter" type="search" placeholder="filter folders" size="30">
 <button id="prev" type="button">‹ previous</button> <button id="next" type="button">next ›</button>
 <span id="shown"></span></div>
<div id="roots"></div>
<div id="replication" hidden><h2 class="section">Replication</h2><div id="groups"></div></div>
<script>
"use strict";
const params = new URLSearchParams(location.search);
const refreshMs = Math.max(200, Number(params.get("refresh")) || 2000);
// A page of folders at a time: a namespace of 100,000 folders is never
// fetched or drawn whole.
const pageSize = Math.min(5000, Math.max(1, Number(params.get("limit")) || 500));
let pageOffset = 0;
let lastCounts = null;
let timer = null;

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const c of children) e.append(c);
  return e;
}

function targetCell(t) {
  const cls = "target " + t.health + (t.state === "offline" ? " offline" : "");
  const cell = el("div", {class: cls, "data-unc": t.unc, "data-health": t.health},
                  el("span", {class: "dot", title: t.health}), t.unc);
  cell.append(" ", el("small", {}, t.priority + (t.rank ? " rank " + t.rank : "") +
                                   (t.state === "offline" ? ", offline" : "")));
  return cell;
}

function render(ns, health, counts) {
  const now = counts.at_ms;
  const previous = lastCounts;
  // Referrals a second since the previous reading ("–" before there is one).
  const rateOf = key => {
    if (!previous || now <= previous.at_ms) return "–";
    const n = (counts.paths[key] || 0) - (previous.paths[key] || 0);
    return (n / ((now - previous.at_ms) / 1000)).toFixed(1);
  };
  lastCounts = counts;
  const roots = document.getElementById("roots");
  roots.replaceChildren();
  for (const r of ns.roots) {
    const box = el("section", {class: "root", "data-path": r.path},
                   el("h2", {}, r.path + "  (" + r.state + ", ttl " + r.ttl + " s, " + r.ordering + ")"));
    const servers = el("div", {}, "namespace servers: ");
    for (const t of r.servers) servers.append(targetCell(t));
    box.append(servers);
    const table = el("table", {},
      el("tr", {}, el("th", {}, "folder"), el("th", {}, "targets, in referral order"),
         el("th", {}, "state"), el("th", {}, "ttl"), el("th", {class: "rate"}, "referrals/s")));
    for (const f of r.folders) {
      const cell = el("td", {});
      for (const t of f.targets) cell.append(targetCell(t));
      const rate = rateOf(f.path.toLowerCase());
      table.append(el("tr", {class: "folder", "data-path": f.path},
        el("td", {}, f.name), cell, el("td", {}, f.state), el("td", {}, f.ttl + " s"),
        el("td", {class: "rate"}, rate)));
    }
    box.append(table);
    roots.append(box);
  }
  const shownFrom = ns.matched === 0 ? 0 : ns.offset + 1;
  const shownTo = Math.min(ns.matched, ns.offset + ns.limit);
  document.getElementById("shown").textContent = "folders " + shownFrom + "–" + shownTo +
    " of " + ns.matched + (ns.filter ? " matching" : "") + " (" + ns.folder_count + " in all)";
  document.getElementById("prev").disabled = ns.offset === 0;
  document.getElementById("next").disabled = shownTo >= ns.matched;
  document.getElementById("meta").className = "";
  document.getElementById("meta").textContent =
    "namespace serial " + ns.serial + " · " + health.servers.length + " servers probed, " +
    health.down + " down · " + counts.total + " referrals answered · updated " +
    new Date(now).toLocaleTimeString();
}

function bytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; ++i; }
  return (i ? n.toFixed(1) : String(n)) + " " + units[i];
}

function age(ms) {
  if (ms === null || ms === undefined) return "–";
  const s = ms / 1000;
  if (s < 60) return s.toFixed(0) + " s";
  if (s < 3600) return (s / 60).toFixed(0) + " min";
  if (s < 86400) return (s / 3600).toFixed(1) + " h";
  return (s / 86400).toFixed(1) + " d";
}

// A count stopped at a limit ("n+"), or an upper bound ("≤ n").
function atLeast(n, complete) { return String(n) + (complete === false ? "+" : ""); }
function atMost(n, exact) { return (exact === false && n > 0 ? "≤ " : "") + String(n); }

// One row per link of each member: its state, what waits each way and
// since when, and the member's conflicts and bytes saved by deltas.
function renderReplication(rep) {
  const section = document.getElementById("replication");
  section.hidden = rep.configured === 0;
  const groups = document.getElementById("groups");
  groups.replaceChildren();
  for (const g of rep.groups) {
    const box = el("section", {class: "group", "data-group": g.group === null ? "" : g.group},
                   el("h3", {}, g.group === null ? "members that never answered" : "replicated folder " + g.group));
    const table = el("table", {},
      el("tr", {}, el("th", {}, "member"), el("th", {}, "link to"), el("th", {}, "state"),
         el("th", {class: "num"}, "backlog in"), el("th", {class: "num"}, "backlog out"),
         el("th", {class: "num"}, "oldest pending in / out"), el("th", {class: "num"}, "conflicts"),
         el("th", {class: "num", title: "bytes of files received less the bytes that crossed the wire: deltas, local copies and zstd"}, "saved by deltas")));
    for (const m of g.members) {
      const who = el("td", {class: m.reachable ? "connected" : "unreachable"},
                     el("span", {class: "dot", title: m.reachable ? "answers" : "unreachable"}),
                     m.member === null ? m.address : m.member);
      if (!m.reachable) {
        who.append(" ", el("small", {class: "error"}, m.error +
          (m.read_ms_ago === null ? "" : " · last read " + age(m.read_ms_ago) + " ago")));
      }
      const links = m.peers || [];
      const memberCells = (first) => first ? [
          el("td", {class: "num"}, m.member === null ? "–" : String(m.conflicts)),
          el("td", {class: "num", "data-bytes-saved": m.bytes_saved === undefined ? "" : m.bytes_saved},
             m.bytes_saved === undefined ? "–" : bytes(m.bytes_saved))] :
        [el("td", {}), el("td", {})];
      if (links.length === 0) {
        table.append(el("tr", {class: "member", "data-member": m.member || m.address},
          who, el("td", {}, "–"), el("td", {}), el("td", {}), el("td", {}), el("td", {}),
          ...memberCells(true)));
        continue;
      }
      links.forEach((p, i) => {
        const state = !m.reachable ? "unreachable" : p.connected ? "connected" : "disconnected";
        const stateText = state === "unreachable" ? "unknown (member unreachable)" :
          state + (p.rejoining ? ", rejoining" : "") +
          (p.last_contact_ms_ago === null ? ", never met" : "");
        const behind = (n) => n > 0 ? "num behind" : "num";
        const row = el("tr", {class: "link" + (m.reachable ? "" : " stale"),
                              "data-member": m.member, "data-peer": p.name, "data-state": state,
                              "data-backlog-in": p.backlog_in, "data-backlog-out": p.backlog_out,
                              "data-oldest-out-ms": p.oldest_pending_out_ms_ago === null ? "" : p.oldest_pending_out_ms_ago},
          i === 0 ? who : el("td", {}), el("td", {}, p.name),
          el("td", {class: state}, el("span", {class: "dot"}), stateText),
          el("td", {class: behind(p.backlog_in)}, atMost(p.backlog_in, p.backlog_in_exact)),
          el("td", {class: behind(p.backlog_out)}, atLeast(p.backlog_out, p.backlog_out_complete)),
          el("td", {class: "num"}, age(p.oldest_pending_in_ms_ago) + " / " + age(p.oldest_pending_out_ms_ago)),
          ...memberCells(i === 0));
        table.append(row);
      });
    }
    box.append(table);
    groups.append(box);
  }
}

async function refresh() {
  clearTimeout(timer);
  const query = "?offset=" + pageOffset + "&limit=" + pageSize + "&filter=" +
    encodeURIComponent(document.getElementById("filter").value);
  try {
    const [ns, health, counts, rep] = await Promise.all(
      ["namespace" + query, "health", "referrals", "replication"].map(
        p => fetch("/api/" + p, {cache: "no-store"}).then(r => r.json())));
    render(ns, health, counts);
    renderReplication(rep);
  } catch (e) {
    const meta = document.getElementById("meta");
    meta.textContent = "cannot reach dfsd: " + e;
    meta.className = "error";
  }
  clearTimeout(timer);
  timer = setTimeout(refresh, refreshMs);
}
document.getElementById("filter").addEventListener("input", () => { pageOffset = 0; refresh(); });
document.getElementById("prev").addEventListener("click", () => {
  pageOffset = Math.max(0, pageOffset - pageSize); refresh(); });
document.getElementById("next").addEventListener("click", () => {
  pageOffset += pageSize; refresh(); });
refresh();
</script>
</body>
</html>
)PAGE";
  return kPage;
}

}  // namespace dfs::referral
