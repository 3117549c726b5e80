#!/usr/bin/env bash
# Writes a dfsutil XML export of \\contoso\webfarm with N folders of 2-3
# targets (fixed seed): Site<i>, every tenth nested as Shops\Shop<i>.
#   bash bench/make_namespace_xml.sh N OUT
set -euo pipefail
awk -v n="$1" 'BEGIN {
  srand(42)
  print "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
  print "<Root Name=\"\\\\contoso\\webfarm\" State=\"ONLINE\" Timeout=\"300\" Attributes=\"192\">"
  print "    <Target State=\"ONLINE\">\\\\ns1\\webfarm</Target>"
  for (i = 0; i < n; i++) {
    name = (i % 10 == 0) ? "Shops\\Shop" i : "Site" i
    printf "    <Link Name=\"%s\" State=\"ONLINE\" Timeout=\"%d\">\n", name, (i % 3 == 0) ? 60 : 1800
    t = 2 + int(rand() * 2)
    for (j = 1; j <= t; j++) {
      cls = (j == 1) ? "globalHigh" : (j == t ? "globalLow" : "siteCostNormal")
      printf "        <Target State=\"ONLINE\" PriorityClass=\"%s\" PriorityRank=\"%d\" dfs:Site=\"site%d\">\\\\web%d\\content\\%s</Target>\n", cls, int(rand() * 4), j, j, "s" i
    }
    print "    </Link>"
  }
  print "</Root>"
}' > "$2"
