#include "io/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "core/error.h"
#include "io/json.h"

namespace dimba {
namespace {

// Header sizes past this are not written by any real tool and would only cost memory.
constexpr uint64_t kMaxHeaderBytes = 100u << 20;
constexpr size_t kMaxRank = 8;

bool dtype_from_name(const std::string& s, DType* out) {
  static const std::pair<const char*, DType> table[] = {
      {"F32", DType::F32}, {"F16", DType::F16}, {"BF16", DType::BF16}, {"F64", DType::F64},
      {"I64", DType::I64}, {"I32", DType::I32}, {"U8", DType::U8}};
  for (auto& [name, t] : table)
    if (s == name) { *out = t; return true; }
  return false;
}

[[noreturn]] void bad(const std::string& what, const std::string& msg) {
  throw EngineError(ErrorCode::BadFile, what + ": " + msg);
}

}  // namespace

Checkpoint parse_safetensors(const uint8_t* bytes, size_t size, std::shared_ptr<void> keep,
                             const std::string& what) {
  if (size < 8) bad(what, "file is shorter than the 8-byte safetensors header length");
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = header_len << 8 | bytes[i];
  if (header_len > kMaxHeaderBytes) bad(what, "header length " + std::to_string(header_len) + " is absurd");
  if (header_len > size - 8)
    bad(what, "header length " + std::to_string(header_len) + " runs past the end of the file (" +
                  std::to_string(size) + " bytes); the file is truncated or not safetensors");
  const uint8_t* data = bytes + 8 + header_len;
  const size_t data_size = size - 8 - size_t(header_len);

  nlohmann::json header = parse_json_untrusted(
      std::string(reinterpret_cast<const char*>(bytes + 8), size_t(header_len)), what + " header");
  if (!header.is_object()) bad(what, "header is not a JSON object");

  Checkpoint ck;
  std::vector<std::pair<size_t, size_t>> spans;
  for (auto& [name, v] : header.items()) {
    if (name == "__metadata__") {
      if (!v.is_object()) bad(what, "__metadata__ is not an object");
      for (auto& [k, mv] : v.items())
        if (mv.is_string()) ck.metadata[k] = mv.get<std::string>();
      continue;
    }
    const std::string where = what + ": tensor '" + name + "'";
    if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") || !v.contains("data_offsets"))
      bad(where, "entry needs dtype, shape and data_offsets");
    const auto& jd = v["dtype"];
    const auto& js = v["shape"];
    const auto& jo = v["data_offsets"];
    if (!jd.is_string()) bad(where, "dtype is not a string");
    TensorEntry e;
    if (!dtype_from_name(jd.get<std::string>(), &e.dtype))
      throw EngineError(ErrorCode::UnsupportedFormat,
                        where + ": dtype " + jd.get<std::string>() + " is not supported");
    if (!js.is_array() || js.size() > kMaxRank) bad(where, "shape must be an array of at most 8 dims");
    // Element count in 128 bits of headroom: each dim < 2^40 and the product checked as we go.
    uint64_t count = 1;
    for (auto& d : js) {
      if (!d.is_number_unsigned() && !(d.is_number_integer() && d.get<int64_t>() >= 0))
        bad(where, "shape holds a non-integer or negative dimension");
      uint64_t dim = d.get<uint64_t>();
      if (dim > (uint64_t(1) << 40)) bad(where, "dimension " + std::to_string(dim) + " is absurd");
      e.shape.push_back(int64_t(dim));
      if (dim != 0 && count > (uint64_t(1) << 48) / dim) bad(where, "element count overflows");
      count *= dim;
    }
    if (!jo.is_array() || jo.size() != 2 || !jo[0].is_number_unsigned() || !jo[1].is_number_unsigned())
      bad(where, "data_offsets must be two non-negative integers");
    uint64_t begin = jo[0].get<uint64_t>(), end = jo[1].get<uint64_t>();
    if (begin > end || end > data_size)
      bad(where, "data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                     ") lie outside the " + std::to_string(data_size) + "-byte data section");
    if (end - begin != count * dtype_size(e.dtype))
      bad(where, "holds " + std::to_string(end - begin) + " bytes but its shape and dtype need " +
                     std::to_string(count * dtype_size(e.dtype)));
    e.data = data + begin;
    e.nbytes = size_t(end - begin);
    if (e.nbytes) spans.emplace_back(size_t(begin), size_t(end));
    ck.tensors.emplace(name, std::move(e));
  }
  std::sort(spans.begin(), spans.end());
  for (size_t i = 1; i < spans.size(); ++i)
    if (spans[i].first < spans[i - 1].second) bad(what, "two tensors overlap in the data section");
  ck.storage.push_back(std::move(keep));
  return ck;
}

Checkpoint load_safetensors(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw EngineError(ErrorCode::Io, "cannot open " + path + ": " + std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    throw EngineError(ErrorCode::Io, "cannot stat " + path + ": " + std::strerror(errno));
  }
  size_t size = size_t(st.st_size);
  if (size == 0) {
    ::close(fd);
    throw EngineError(ErrorCode::BadFile, path + ": file is empty");
  }
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) throw EngineError(ErrorCode::Io, "cannot map " + path + ": " + std::strerror(errno));
  std::shared_ptr<void> keep(map, [size](void* p) { ::munmap(p, size); });
  return parse_safetensors(static_cast<const uint8_t*>(map), size, std::move(keep), path);
}

void save_safetensors(const std::string& path, const std::map<std::string, TensorToSave>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  size_t offset = 0;
  for (auto& [name, t] : tensors) {
    size_t count = 1;
    for (int64_t d : t.shape) count *= size_t(d);
    size_t nbytes = count * dtype_size(t.dtype);
    header[name] = {{"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
  }
  std::string h = header.dump();
  h.append((8 - h.size() % 8) % 8, ' ');  // keeps the data section 8-byte aligned

  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw EngineError(ErrorCode::Io, "cannot create " + tmp + ": " + std::strerror(errno));
  auto write_all = [&](const void* p, size_t n) {
    const char* c = static_cast<const char*>(p);
    while (n) {
      ssize_t w = ::write(fd, c, n);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        int err = errno;
        ::close(fd);
        ::unlink(tmp.c_str());
        throw EngineError(ErrorCode::Io, "cannot write " + tmp + ": " + std::strerror(err));
      }
      c += w;
      n -= size_t(w);
    }
  };
  uint8_t len[8];
  uint64_t hl = h.size();
  for (int i = 0; i < 8; ++i) len[i] = uint8_t(hl >> (8 * i));
  write_all(len, 8);
  write_all(h.data(), h.size());
  for (auto& [name, t] : tensors) {
    size_t count = 1;
    for (int64_t d : t.shape) count *= size_t(d);
    write_all(t.data, count * dtype_size(t.dtype));
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    ::unlink(tmp.c_str());
    throw EngineError(ErrorCode::Io, "cannot flush " + tmp + ": " + std::strerror(errno));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    throw EngineError(ErrorCode::Io, "cannot rename " + tmp + " to " + path + ": " + std::strerror(err));
  }
}

}  // namespace dimba
