// Fuzz target: a target server's answer to dfsd's probe
// (referral/probe_check.h), fed whole and in every split the prober's
// reads could make. Properties: no crash; at kMaxProbeAnswerBytes a
// verdict is always given; a verdict never changes as more bytes come.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "dfs/referral/probe_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace dfs::referral;
  std::string_view answer(reinterpret_cast<const char*>(data), size);
  if (answer.size() > kMaxProbeAnswerBytes) {
    answer = answer.substr(0, kMaxProbeAnswerBytes);
  }
  for (ProbeCheck check : {ProbeCheck::kSmb, ProbeCheck::kHttp}) {
    ProbeVerdict first = ProbeVerdict::kNeedMore;
    for (size_t n = 0; n <= answer.size(); ++n) {
      const ProbeVerdict v = JudgeProbeAnswer(check, answer.substr(0, n));
      if (first != ProbeVerdict::kNeedMore && v != first) std::abort();
      if (first == ProbeVerdict::kNeedMore) first = v;
    }
    if (answer.size() == kMaxProbeAnswerBytes &&
        JudgeProbeAnswer(check, answer) == ProbeVerdict::kNeedMore) {
      std::abort();
    }
  }
  return 0;
}
