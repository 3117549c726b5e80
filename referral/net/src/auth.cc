#include "dfs/referral_net/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "dfs/common/error.h"
#include "dfs/referral/admin.h"

namespace dfs::referral_net {

std::string NewNonce() {
  std::string nonce(referral::kAdminNonceBytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(nonce.data()),
                 static_cast<int>(nonce.size())) != 1) {
    throw std::runtime_error("no randomness for an admin nonce");
  }
  return nonce;
}

std::string AdminMac(std::string_view key, std::string_view nonce) {
  std::string message(referral::kAdminMacContext);
  message.append(nonce);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(),
       mac, &len);
  return std::string(reinterpret_cast<const char*>(mac), len);
}

bool MacMatches(std::string_view expected, std::string_view got) {
  return expected.size() == got.size() &&
         CRYPTO_memcmp(expected.data(), got.data(), expected.size()) == 0;
}

Result<std::string> ReadAdminKey(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Fail(Errc::kNotFound, "cannot read the key file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string key = ss.str();
  while (!key.empty() && (key.back() == '\n' || key.back() == '\r'))
    key.pop_back();
  if (key.size() < kMinAdminKeyBytes) {
    return Fail(Errc::kInvalidArgument,
                "the key in " + path + " is shorter than " +
                    std::to_string(kMinAdminKeyBytes) + " bytes");
  }
  return key;
}

}  // namespace dfs::referral_net
