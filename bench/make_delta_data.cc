// Makes the delta benchmark's data, reproducibly from a seed:
//   random SIZE SEED OUT            random bytes
//   log SIZE SEED OUT               web-server access log lines (unique ids)
//   source SIZE SEED DIR            a tree of C-like source files
//   edit IN OUT SEED [--rewrites N --rewrite-len L] [--inserts N --insert-len L
//        --insert-at-middle --text] [--delete-len L]
//                                   scattered rewrites, inserts and one deleted
//                                   range; prints the new bytes it put in
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <vector>

namespace {

std::string Random(std::mt19937_64& rng, size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; i += 8) {
    const uint64_t v = rng();
    for (size_t k = 0; k < 8 && i + k < n; ++k)
      s[i + k] = static_cast<char>(v >> (8 * k));
  }
  return s;
}

const char* kWords[] = {"buffer",  "count",  "index",  "value",  "result",
                        "node",    "table",  "config", "server", "client",
                        "request", "reply",  "length", "offset", "status",
                        "error",   "handle", "stream", "target", "cache"};

std::string Identifier(std::mt19937_64& rng) {
  std::string s = kWords[rng() % 20];
  if (rng() % 2) s += std::string("_") + kWords[rng() % 20];
  if (rng() % 3 == 0) s += std::to_string(rng() % 100);
  return s;
}

// C-like text: functions with statements, comments, includes.
std::string SourceText(std::mt19937_64& rng, size_t n) {
  std::string s;
  while (s.size() < n) {
    switch (rng() % 6) {
      case 0:
        s += "// " + Identifier(rng) + " keeps the " + Identifier(rng) +
             " in step with " + Identifier(rng) + ".\n";
        break;
      case 1:
        s += "static int " + Identifier(rng) + "(struct " + Identifier(rng) +
             " *" + Identifier(rng) + ", size_t " + Identifier(rng) + ") {\n";
        break;
      case 2:
        s += "  if (" + Identifier(rng) + " > " + std::to_string(rng() % 4096) +
             ") return -E" + kWords[rng() % 20] + ";\n";
        break;
      case 3:
        s += "  " + Identifier(rng) + " = " + Identifier(rng) + "->" +
             Identifier(rng) + " + " + std::to_string(rng() % 1000) + ";\n";
        break;
      case 4:
        s += "}\n\n";
        break;
      default:
        s += "#include <" + Identifier(rng) + ".h>\n";
    }
  }
  s.resize(n);
  return s;
}

std::string LogLines(std::mt19937_64& rng, size_t n, uint64_t& clock_us) {
  static const char* paths[] = {"/",
                                "/index.html",
                                "/site1/page",
                                "/api/v1/items/",
                                "/static/app.js",
                                "/images/photo",
                                "/search?q="};
  static const char* agents[] = {
      "Mozilla/5.0 (X11; Linux x86_64)", "curl/7.88.1",
      "Mozilla/5.0 (Windows NT 10.0; Win64; x64)", "Googlebot/2.1"};
  std::string s;
  char line[512];
  while (s.size() < n) {
    clock_us += 50 + rng() % 5000;
    const uint64_t sec = clock_us / 1000000;
    const int len = std::snprintf(
        line, sizeof line,
        "2026-11-%02llu %02llu:%02llu:%02llu.%06llu web%llu nginx: "
        "10.%llu.%llu.%llu - - "
        "\"GET %s%llu HTTP/1.1\" %d %llu \"-\" \"%s\" rt=%.3f req=%016llx\n",
        static_cast<unsigned long long>(1 + sec / 86400 % 28),
        static_cast<unsigned long long>(sec / 3600 % 24),
        static_cast<unsigned long long>(sec / 60 % 60),
        static_cast<unsigned long long>(sec % 60),
        static_cast<unsigned long long>(clock_us % 1000000),
        static_cast<unsigned long long>(1 + rng() % 4),
        static_cast<unsigned long long>(rng() % 256),
        static_cast<unsigned long long>(rng() % 256),
        static_cast<unsigned long long>(rng() % 256), paths[rng() % 7],
        static_cast<unsigned long long>(rng() % 100000), rng() % 10 ? 200 : 404,
        static_cast<unsigned long long>(200 + rng() % 50000), agents[rng() % 4],
        (rng() % 2000) / 1000.0, static_cast<unsigned long long>(rng()));
    s.append(line, static_cast<size_t>(len));
  }
  return s;
}

bool WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return out.good();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"delta benchmark data"};
  app.require_subcommand(1);
  size_t size = 0;
  uint64_t seed = 1;
  std::string out, in;
  auto* random = app.add_subcommand("random");
  auto* log = app.add_subcommand("log");
  auto* source = app.add_subcommand("source");
  for (auto* c : {random, log, source}) {
    c->add_option("size", size)->required();
    c->add_option("seed", seed)->required();
    c->add_option("out", out)->required();
  }
  auto* edit = app.add_subcommand("edit");
  size_t rewrites = 0, rewrite_len = 0, inserts = 0, insert_len = 0,
         delete_len = 0;
  bool middle = false, text = false;
  edit->add_option("in", in)->required();
  edit->add_option("out", out)->required();
  edit->add_option("seed", seed)->required();
  edit->add_option("--rewrites", rewrites);
  edit->add_option("--rewrite-len", rewrite_len);
  edit->add_option("--inserts", inserts);
  edit->add_option("--insert-len", insert_len);
  edit->add_flag("--insert-at-middle", middle);
  edit->add_flag("--text", text);
  edit->add_option("--delete-len", delete_len);
  CLI11_PARSE(app, argc, argv);

  std::mt19937_64 rng(seed);
  if (*random) return WriteFile(out, Random(rng, size)) ? 0 : 1;
  if (*log) {
    uint64_t clock_us = 0;
    return WriteFile(out, LogLines(rng, size, clock_us)) ? 0 : 1;
  }
  if (*source) {
    // Files of 2-60 KB in a few directories, to be tarred by the caller.
    size_t made = 0;
    for (int i = 0; made < size; ++i) {
      const std::filesystem::path dir =
          std::filesystem::path(out) / ("module" + std::to_string(i % 37));
      std::filesystem::create_directories(dir);
      const size_t n = 2048 + rng() % 60000;
      if (!WriteFile((dir / (Identifier(rng) + "_" + std::to_string(i) + ".c"))
                         .string(),
                     SourceText(rng, n))) {
        return 1;
      }
      made += n;
    }
    return 0;
  }
  std::ifstream input(in, std::ios::binary);
  std::string data((std::istreambuf_iterator<char>(input)), {});
  size_t added = 0;
  for (size_t i = 0; i < rewrites; ++i) {
    const size_t at = rng() % (data.size() - rewrite_len);
    const std::string fresh =
        text ? SourceText(rng, rewrite_len) : Random(rng, rewrite_len);
    data.replace(at, rewrite_len, fresh);
    added += rewrite_len;
  }
  for (size_t i = 0; i < inserts; ++i) {
    const size_t at = middle ? data.size() / 2 : rng() % data.size();
    data.insert(at,
                text ? SourceText(rng, insert_len) : Random(rng, insert_len));
    added += insert_len;
  }
  if (delete_len > 0)
    data.erase(rng() % (data.size() - delete_len), delete_len);
  std::cout << added << "\n";
  return WriteFile(out, data) ? 0 : 1;
}
