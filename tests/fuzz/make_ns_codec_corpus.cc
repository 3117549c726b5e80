// Writes the seed corpus of ns_codec_fuzz: one valid encoding of each
// record and mutation kind. Run by hand after a format change:
//   build/bin/make_ns_codec_corpus tests/fuzz/corpus/ns_codec
#include <fstream>
#include <string>

#include "dfs/ns/codec.h"

using namespace dfs::ns;

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  const std::string dir = argv[1];
  auto write = [&](const std::string& name, const std::string& bytes) {
    std::ofstream(dir + "/" + name, std::ios::binary) << bytes;
  };
  Target primary{
      "web1", "content\\Site1", State::kOnline, PriorityClass::kGlobalHigh, 0,
      ""};
  Target backup{
      "web2", "content\\Site1", State::kOffline, PriorityClass::kGlobalLow, 3,
      "east"};
  Root root{"contoso",
            "webfarm",
            300,
            true,
            OrderingMethod::kRandom,
            "farm",
            State::kOnline,
            {Target{"ns1", "webfarm", State::kOnline,
                    PriorityClass::kSiteCostNormal, 0, ""}}};
  Folder folder{"Site1",          60, Failback::kOn, "shop", State::kOnline,
                {primary, backup}};
  write("root", EncodeRoot(root));
  write("folder", EncodeFolder(folder));
  ChangeEntry entry;
  entry.serial = 7;
  entry.unix_millis = 1700000000000;
  entry.description = "link add \\\\contoso\\webfarm\\Site1";
  entry.mutations = {PutRoot{"contoso\\webfarm", root},
                     PutFolder{"contoso\\webfarm", "site1", folder},
                     DeleteFolder{"contoso\\webfarm", "old"},
                     DeleteRoot{"contoso\\intranet"},
                     PutAlias{"contoso.com", "contoso"},
                     DeleteAlias{"corp"}};
  write("change", EncodeChangeEntry(entry));
  ChangeEntry resync;
  resync.serial = 8;
  resync.description = "bulk";
  resync.resync_required = true;
  write("resync", EncodeChangeEntry(resync));
  return 0;
}
