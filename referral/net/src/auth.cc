#include "dfs/referral_net/auth.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <set>

#include "dfs/common/error.h"

namespace dfs::referral_net {

Result<std::string> ReadOwnerOnlyFile(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return Fail(Errc::kNotFound, "cannot read the key file " + path + ": " +
                                     std::strerror(errno));
  }
  struct stat st {};
  std::string key;
  std::string problem;
  if (fstat(fd, &st) != 0) {
    problem = std::string("cannot stat it: ") + std::strerror(errno);
  } else if (!S_ISREG(st.st_mode)) {
    problem = "it is not a regular file";
  } else if (static_cast<size_t>(st.st_size) > kMaxAdminKeyFileBytes) {
    problem =
        "it is larger than " + std::to_string(kMaxAdminKeyFileBytes) + " bytes";
  } else if (st.st_mode & 077) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o",
                  static_cast<unsigned>(st.st_mode & 07777));
    problem = std::string("its permissions ") + mode +
              " let group or others at it (chmod 600 it)";
  } else {
    key.resize(static_cast<size_t>(st.st_size));
    size_t at = 0;
    while (at < key.size()) {
      const ssize_t n = read(fd, key.data() + at, key.size() - at);
      if (n <= 0) break;
      at += static_cast<size_t>(n);
    }
    key.resize(at);
  }
  close(fd);
  if (!problem.empty()) {
    return Fail(Errc::kInvalidArgument,
                "refusing the key file " + path + ": " + problem);
  }
  auto space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
  };
  while (!key.empty() && space(key.back())) key.pop_back();
  size_t first = 0;
  while (first < key.size() && space(key[first])) ++first;
  key.erase(0, first);
  return key;
}

Result<std::string> ReadPasswordFile(const std::string& path) {
  DFS_ASSIGN_OR_RETURN(std::string password, ReadOwnerOnlyFile(path));
  if (password.empty()) {
    return Fail(Errc::kInvalidArgument,
                "the password file " + path + " is empty");
  }
  return password;
}

Result<std::string> ReadAdminKey(const std::string& path) {
  DFS_ASSIGN_OR_RETURN(std::string key, ReadOwnerOnlyFile(path));
  if (key.size() < kMinAdminKeyBytes) {
    return Fail(Errc::kInvalidArgument,
                "the key in " + path + " is shorter than " +
                    std::to_string(kMinAdminKeyBytes) + " bytes");
  }
  const std::set<char> distinct(key.begin(), key.end());
  if (distinct.size() < kMinAdminKeyDistinctBytes) {
    return Fail(Errc::kInvalidArgument,
                "the key in " + path + " uses fewer than " +
                    std::to_string(kMinAdminKeyDistinctBytes) +
                    " different characters: not a key (e.g. openssl rand "
                    "-hex 32)");
  }
  return key;
}

}  // namespace dfs::referral_net
