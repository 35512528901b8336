// Streaming SHA-256, so files are hashed while they are copied (one pass).
#ifndef VMIGRATE_CORE_SHA256_H_
#define VMIGRATE_CORE_SHA256_H_

#include <cstddef>
#include <string>

namespace vmigrate {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(const void* data, size_t size);
  /// Lower-case hex digest; the object is reset afterwards.
  std::string HexDigest();

  static std::string Of(const std::string& data);

 private:
  void* ctx_;  // EVP_MD_CTX, kept opaque so OpenSSL headers stay in sha256.cc
};

}  // namespace vmigrate

#endif  // VMIGRATE_CORE_SHA256_H_
