// Random namespace objects for property tests. Seeded by the caller (from
// GoogleTest's random seed), so --gtest_random_seed reproduces a failure.
#pragma once

#include <random>
#include <string>

#include "dfs/ns/model.h"
#include "dfs/ns/namespace.h"
#include "testing/seed.h"

namespace dfs::testing {

class RandomNamespace {
 public:
  explicit RandomNamespace(uint32_t seed) : rng_(seed) {}

  std::string Name(size_t max_len = 12) {
    static const std::string kChars =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";
    size_t n = 1 + rng_() % max_len;
    std::string s;
    for (size_t i = 0; i < n; ++i) s += kChars[rng_() % kChars.size()];
    if (rng_() % 8 == 0) s += "é";  // some non-ASCII
    return s;
  }

  ns::Target Target() {
    ns::Target t;
    t.server = Name(8);
    t.share = Name() + (rng_() % 2 ? "\\" + Name() : "");
    t.state = static_cast<ns::State>(rng_() % 2);
    t.priority_class = static_cast<ns::PriorityClass>(rng_() % 5);
    t.priority_rank = static_cast<uint8_t>(rng_() % 32);
    if (rng_() % 3 == 0) t.site = Name(6);
    return t;
  }

  ns::Root Root() {
    ns::Root r;
    r.host = Name(8);
    r.name = Name();
    r.ttl_seconds = rng_() % 100000;
    r.failback = rng_() % 2;
    r.ordering = static_cast<ns::OrderingMethod>(rng_() % 3);
    r.state = static_cast<ns::State>(rng_() % 2);
    if (rng_() % 2) r.comment = "comment & <" + Name() + ">";
    for (int i = rng_() % 3; i > 0; --i) r.targets.push_back(Target());
    return r;
  }

  ns::Folder Folder() {
    ns::Folder f;
    f.path = Name() + (rng_() % 3 == 0 ? "\\" + Name() : "");
    f.ttl_seconds = rng_() % 100000;
    f.failback = static_cast<ns::Failback>(rng_() % 3);
    f.state = static_cast<ns::State>(rng_() % 2);
    if (rng_() % 2) f.comment = Name(40);
    for (int i = 1 + rng_() % 4; i > 0; --i) f.targets.push_back(Target());
    return f;
  }

  ns::Mutation Mutation() {
    switch (rng_() % 10) {
      case 0:
        return ns::PutRoot{Name() + "\\" + Name(), Root()};
      case 1:
        return ns::DeleteRoot{Name() + "\\" + Name()};
      case 2:
        return ns::PutFolder{Name() + "\\" + Name(), Name(), Folder()};
      case 3:
        return ns::DeleteFolder{Name() + "\\" + Name(), Name()};
      case 4:
        return ns::PutAlias{Name(), Name()};
      default:
        return ns::DeleteAlias{Name()};
    }
  }

  std::mt19937& rng() { return rng_; }

 private:
  std::mt19937 rng_;
};

}  // namespace dfs::testing
