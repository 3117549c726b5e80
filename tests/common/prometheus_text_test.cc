// The one Prometheus text writer dfsd, the dfsclient mount and dfsrd share.
#include "dfs/common/prometheus_text.h"

#include <gtest/gtest.h>

#include <array>

namespace dfs {
namespace {

TEST(PrometheusTextTest, WritesFamiliesSamplesAndHistograms) {
  PrometheusText o;
  o.Counter("x_total", "Things.", 3);
  o.Family("y_total", "counter", "By result.")
      .Sample("y_total", {{"result", "ok"}}, 5)
      .Sample("y_total", {{"result", "a\"b\\c\nd"}}, 1);
  const std::array<double, 2> bounds{0.001, 0.1};
  const std::array<uint64_t, 3> counts{2, 1, 4};  // the last: above 0.1
  o.Family("t_seconds", "histogram", "Times.")
      .Histogram("t_seconds", {{"op", "read"}}, bounds, counts, 1.5);
  EXPECT_EQ(o.Take(),
            "# HELP x_total Things.\n# TYPE x_total counter\nx_total 3\n"
            "# HELP y_total By result.\n# TYPE y_total counter\n"
            "y_total{result=\"ok\"} 5\n"
            "y_total{result=\"a\\\"b\\\\c d\"} 1\n"
            "# HELP t_seconds Times.\n# TYPE t_seconds histogram\n"
            "t_seconds_bucket{op=\"read\",le=\"0.001\"} 2\n"
            "t_seconds_bucket{op=\"read\",le=\"0.1\"} 3\n"
            "t_seconds_bucket{op=\"read\",le=\"+Inf\"} 7\n"
            "t_seconds_sum{op=\"read\"} 1.5\n"
            "t_seconds_count{op=\"read\"} 7\n");
}

}  // namespace
}  // namespace dfs
