// Prometheus text exposition (version 0.0.4), built one family at a time:
// dfsd, the dfsclient mount and dfsrd render their /metrics through this
// one writer instead of three hand-written ones.
//
//   PrometheusText out;
//   out.Counter("dfs_connections_total", "Client connections accepted.", n);
//   out.Family("dfs_referrals_total", "counter", "Referral requests.");
//   out.Sample("dfs_referrals_total", {{"result", "ok"}}, ok);
//   std::string text = out.Take();
//
// Label values are escaped (backslash, quote; a newline becomes a space).
// Thread-safety: none (one writer per rendering).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>

namespace dfs {

class PrometheusText {
 public:
  using Labels =
      std::initializer_list<std::pair<std::string_view, std::string_view>>;

  // The # HELP and # TYPE lines of a family ("counter", "gauge",
  // "histogram").
  PrometheusText& Family(std::string_view name, std::string_view type,
                         std::string_view help) {
    out_ << "# HELP " << name << " " << help << "\n# TYPE " << name << " "
         << type << "\n";
    return *this;
  }
  template <typename Value>
  PrometheusText& Sample(std::string_view name, Labels labels, Value value) {
    out_ << name;
    WriteLabels(labels, {});
    out_ << " " << value << "\n";
    return *this;
  }
  // A family of one unlabelled sample.
  template <typename Value>
  PrometheusText& Counter(std::string_view name, std::string_view help,
                          Value value) {
    return Family(name, "counter", help).Sample(name, {}, value);
  }
  template <typename Value>
  PrometheusText& Gauge(std::string_view name, std::string_view help,
                        Value value) {
    return Family(name, "gauge", help).Sample(name, {}, value);
  }
  // One histogram's samples (its family written before): `counts[i]` is
  // the number of observations in bucket i (at most `bounds[i]`), the
  // last one those above every bound; `sum` their total.
  PrometheusText& Histogram(std::string_view name, Labels labels,
                            std::span<const double> bounds,
                            std::span<const uint64_t> counts, double sum) {
    uint64_t cumulative = 0;
    for (size_t i = 0; i < bounds.size() && i < counts.size(); ++i) {
      cumulative += counts[i];
      std::ostringstream le;
      le << bounds[i];
      out_ << name << "_bucket";
      WriteLabels(labels, {"le", le.str()});
      out_ << " " << cumulative << "\n";
    }
    if (counts.size() > bounds.size()) cumulative += counts[bounds.size()];
    out_ << name << "_bucket";
    WriteLabels(labels, {"le", "+Inf"});
    out_ << " " << cumulative << "\n" << name << "_sum";
    WriteLabels(labels, {});
    out_ << " " << sum << "\n" << name << "_count";
    WriteLabels(labels, {});
    out_ << " " << cumulative << "\n";
    return *this;
  }
  std::string Take() { return out_.str(); }

  static std::string Escape(std::string_view value) {
    std::string out;
    for (char c : value) {
      if (c == '\\' || c == '"') out += '\\';
      out += c == '\n' ? ' ' : c;
    }
    return out;
  }

 private:
  void WriteLabels(Labels labels,
                   std::pair<std::string_view, std::string_view> extra) {
    if (labels.size() == 0 && extra.first.empty()) return;
    out_ << "{";
    bool first = true;
    auto one = [&](std::string_view k, std::string_view v) {
      out_ << (first ? "" : ",") << k << "=\"" << Escape(v) << "\"";
      first = false;
    };
    for (const auto& [k, v] : labels) one(k, v);
    if (!extra.first.empty()) one(extra.first, extra.second);
    out_ << "}";
  }
  std::ostringstream out_;
};

}  // namespace dfs
