#include "io/load_checkpoint.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <set>

#include "core/error.h"
#include "io/json.h"
#include "io/pickle.h"
#include "io/safetensors.h"
#include "io/zip.h"

namespace dimba {

bool LoadOptions::wants(const std::string& name) const {
  bool ok = prefixes.empty();
  for (const std::string& p : prefixes)
    if (name.compare(0, p.size(), p) == 0) { ok = true; break; }
  return ok && (!keep || keep(name));
}

namespace {

[[noreturn]] void bad(const std::string& what, const std::string& msg) {
  throw EngineError(ErrorCode::BadFile, what + ": " + msg);
}

struct Mapping {
  const uint8_t* bytes;
  size_t size;
  std::shared_ptr<void> keep;
};

Mapping map_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw EngineError(ErrorCode::Io, "cannot open " + path + ": " + std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    throw EngineError(ErrorCode::Io, "cannot stat " + path + ": " + std::strerror(err));
  }
  size_t size = size_t(st.st_size);
  if (size == 0) {
    ::close(fd);
    bad(path, "file is empty");
  }
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  int err = errno;
  ::close(fd);
  if (map == MAP_FAILED) throw EngineError(ErrorCode::Io, "cannot map " + path + ": " + std::strerror(err));
  return {static_cast<const uint8_t*>(map), size, std::shared_ptr<void>(map, [size](void* p) { ::munmap(p, size); })};
}

// The first bytes of a file, enough to tell the formats apart (tar's magic is at 257).
std::string head_bytes(const std::string& path, size_t n) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw EngineError(ErrorCode::Io, "cannot open " + path + ": " + std::strerror(errno));
  std::string s(n, '\0');
  ssize_t got = ::pread(fd, s.data(), n, 0);
  int err = errno;
  ::close(fd);
  if (got < 0) throw EngineError(ErrorCode::Io, "cannot read " + path + ": " + std::strerror(err));
  s.resize(size_t(got));
  return s;
}

bool is_dir(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}
bool is_file(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

Checkpoint filtered(Checkpoint ck, const LoadOptions& o) {
  for (auto it = ck.tensors.begin(); it != ck.tensors.end();)
    it = o.wants(it->first) ? std::next(it) : ck.tensors.erase(it);
  return ck;
}

// --- torch zip ---

// A tensor of the pickle as a TensorEntry: a pointer into the mapping when the view is
// contiguous, aligned and of a dtype the engine reads; otherwise a copy into a buffer the
// checkpoint keeps.
TensorEntry materialize(const PickleTree& tree, const TensorRef& t, const ZipArchive& zip,
                        const std::string& prefix, const std::string& where, Checkpoint& ck) {
  const StorageRef& st = tree.storages[tree.at(t.storage).aux];
  const std::string entry_name = prefix + "data/" + st.key;
  const ZipEntry* e = zip.find(entry_name);
  if (!e) bad(where, "its storage '" + entry_name + "' is not in the archive");
  const uint8_t* base = zip.data(*e);
  const uint64_t storage_bytes = st.numel * (st.dtype == TorchScalar::Untyped ? 1 : torch_scalar_size(st.dtype));
  if (e->size < storage_bytes)
    bad(where, "storage '" + entry_name + "' holds " + std::to_string(e->size) + " bytes but the pickle declares " +
                   std::to_string(storage_bytes));

  TensorEntry out;
  const size_t esize = torch_scalar_size(t.dtype);
  switch (t.dtype) {
    case TorchScalar::F32: case TorchScalar::F64: out.dtype = DType::F32; break;
    case TorchScalar::F16: out.dtype = DType::F16; break;
    case TorchScalar::BF16: out.dtype = DType::BF16; break;
    case TorchScalar::I64: out.dtype = DType::I64; break;
    case TorchScalar::I32: out.dtype = DType::I32; break;
    case TorchScalar::U8: case TorchScalar::Bool: out.dtype = DType::U8; break;
    default:
      throw EngineError(ErrorCode::UnsupportedFormat,
                        where + ": dtype " + torch_scalar_name(t.dtype) + " is not supported");
  }
  out.shape = t.size;
  size_t count = 1;
  for (int64_t d : t.size) count *= size_t(d);  // bounded by the unpickler (< 2^48)

  // Row-major strides; dims of size 1 may carry any stride (torch leaves them arbitrary).
  bool contiguous = true;
  int64_t expect = 1;
  for (size_t k = t.size.size(); k-- > 0;) {
    if (t.size[k] != 1 && t.stride[k] != expect) contiguous = false;
    expect *= t.size[k];
  }
  const uint8_t* src = base + size_t(t.offset) * esize;  // the unpickler checked the view
  const bool aligned = reinterpret_cast<uintptr_t>(src) % esize == 0;
  if (count == 0) {
    out.data = src;
    return out;
  }
  if (contiguous && aligned && t.dtype != TorchScalar::F64) {
    out.data = src;
    out.nbytes = count * esize;
    return out;
  }
  // Gather element by element in row-major order, converting f64 to f32 on the way.
  const size_t osize = dtype_size(out.dtype);
  auto buf = std::shared_ptr<uint8_t>(new uint8_t[count * osize], std::default_delete<uint8_t[]>());
  std::vector<int64_t> idx(t.size.size(), 0);
  size_t off = 0;  // element offset from src of the current index
  for (size_t n = 0; n < count; ++n) {
    const uint8_t* from = src + off * esize;
    if (t.dtype == TorchScalar::F64) {
      double d;
      std::memcpy(&d, from, 8);
      float f = float(d);
      std::memcpy(buf.get() + n * 4, &f, 4);
    } else {
      std::memcpy(buf.get() + n * osize, from, esize);
    }
    for (size_t k = idx.size(); k-- > 0;) {  // odometer step
      if (++idx[k] < t.size[k]) { off += size_t(t.stride[k]); break; }
      off -= size_t(t.stride[k]) * size_t(t.size[k] - 1);
      idx[k] = 0;
    }
  }
  out.data = buf.get();
  out.nbytes = count * osize;
  ck.storage.push_back(std::move(buf));
  return out;
}

// --- index JSON and folders ---

Checkpoint load_file(const std::string& path, const LoadOptions& o, bool allow_index);

Checkpoint load_index(const std::string& path, const LoadOptions& o) {
  nlohmann::json j = parse_json_untrusted(read_text_file(path), path);
  if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
    bad(path, "index has no weight_map object");
  const size_t slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);

  std::map<std::string, std::set<std::string>> by_shard;  // shard -> wanted names
  for (auto& [name, shard] : j["weight_map"].items()) {
    if (!shard.is_string()) bad(path, "weight_map entry '" + name + "' is not a file name");
    const std::string s = shard.get<std::string>();
    // Shards live beside the index: a name with a path in it could reach any file.
    if (s.empty() || s == "." || s == ".." || s.find('/') != std::string::npos ||
        s.find('\\') != std::string::npos || s.find('\0') != std::string::npos)
      bad(path, "shard name '" + s + "' is not a plain file name in the index's folder");
    if (o.wants(name)) by_shard[s].insert(name);
  }
  Checkpoint ck;
  for (auto& [shard, names] : by_shard) {
    LoadOptions only;
    const std::set<std::string>& wanted = names;  // lambdas cannot capture a structured binding
    only.keep = [&wanted](const std::string& n) { return wanted.count(n) != 0; };
    Checkpoint part = load_file(dir + "/" + shard, only, false);
    for (const std::string& n : names) {
      auto it = part.tensors.find(n);
      if (it == part.tensors.end())
        bad(path, "the index puts tensor '" + n + "' in " + shard + ", which does not hold it");
      ck.tensors.insert_or_assign(n, it->second);
    }
    for (auto& [k, v] : part.metadata) ck.metadata.emplace(k, v);
    for (auto& s : part.storage) ck.storage.push_back(std::move(s));
  }
  if (j.contains("metadata") && j["metadata"].is_object())
    for (auto& [k, v] : j["metadata"].items())
      if (v.is_string()) ck.metadata.emplace(k, v.get<std::string>());
  return ck;
}

Checkpoint load_folder(const std::string& dir, const LoadOptions& o) {
  // Hugging Face's names, in the order transformers/diffusers prefer them.
  static const char* kNames[] = {
      "model.safetensors", "model.safetensors.index.json",
      "diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.safetensors.index.json",
      "pytorch_model.bin", "pytorch_model.bin.index.json",
      "diffusion_pytorch_model.bin", "diffusion_pytorch_model.bin.index.json"};
  for (const char* n : kNames) {
    std::string p = dir + "/" + n;
    if (is_file(p)) return load_file(p, o, true);
  }
  throw EngineError(ErrorCode::Io, dir + ": folder holds no model.safetensors, pytorch_model.bin, "
                                         "diffusion_pytorch_model.* or index JSON");
}

Checkpoint load_file(const std::string& path, const LoadOptions& o, bool allow_index) {
  const std::string h = head_bytes(path, 512);
  if (h.size() < 4) bad(path, "file is " + std::to_string(h.size()) + " bytes: too short to be a checkpoint");
  const auto* b = reinterpret_cast<const uint8_t*>(h.data());
  if (h.size() >= 4 && b[0] == 'P' && b[1] == 'K' && ((b[2] == 3 && b[3] == 4) || (b[2] == 5 && b[3] == 6))) {
    Mapping m = map_file(path);
    return parse_torch_checkpoint(m.bytes, m.size, m.keep, path, o);
  }
  if (h.size() >= 9 && h[8] == '{') return filtered(load_safetensors(path), o);
  if (b[0] == 0x80 || (h.size() >= 262 && h.compare(257, 5, "ustar") == 0))
    throw EngineError(ErrorCode::UnsupportedFormat,
                      path + ": a legacy (pre-1.6) torch serialization; re-save it with a newer torch "
                             "(torch.save(torch.load(path), path) writes the zip format)");
  size_t first = h.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && h[first] == '{') {
    if (!allow_index) bad(path, "a shard is itself an index JSON");
    return load_index(path, o);
  }
  throw EngineError(ErrorCode::UnsupportedFormat,
                    path + ": not a safetensors file, torch zip checkpoint or index JSON");
}

}  // namespace

Checkpoint parse_torch_checkpoint(const uint8_t* bytes, size_t size, std::shared_ptr<void> keep,
                                  const std::string& what, const LoadOptions& o) {
  ZipArchive zip = ZipArchive::parse(bytes, size, what);
  if (zip.entries().empty()) bad(what, "zip archive is empty");
  // torch's reader takes the archive's folder from its first entry (caffe2/serialize/
  // inline_container.cc, PyTorchStreamReader::init); torch.save names it "archive" or
  // after the file.
  const std::string& first = zip.entries()[0].name;
  const size_t slash = first.find('/');
  if (slash == std::string::npos) bad(what, "zip entries are not inside a folder: not a torch.save archive");
  const std::string prefix = first.substr(0, slash + 1);
  const ZipEntry* pkl = zip.find(prefix + "data.pkl");
  if (!pkl) bad(what, "no " + prefix + "data.pkl: not a torch.save archive");
  if (const ZipEntry* bo = zip.find(prefix + "byteorder")) {
    std::string order(reinterpret_cast<const char*>(zip.data(*bo)), size_t(bo->size));
    if (order != "little")
      throw EngineError(ErrorCode::UnsupportedFormat, what + ": byte order '" + order + "' (only little-endian is read)");
  }
  PickleTree tree = unpickle_torch(zip.data(*pkl), size_t(pkl->size), what + ": " + prefix + "data.pkl");

  uint32_t dict = tree.root;
  if (tree.at(dict).kind != PyKind::Dict)
    throw EngineError(ErrorCode::UnsupportedFormat, what + ": the pickled object is not a dict of tensors");
  for (const char* key : {"state_dict", "model"}) {
    uint32_t inner = tree.dict_get(dict, key);
    if (inner != UINT32_MAX && tree.at(inner).kind == PyKind::Dict) {
      dict = inner;
      break;
    }
  }
  Checkpoint ck;
  ck.storage.push_back(std::move(keep));
  const std::vector<uint32_t> items = tree.at(dict).items;
  for (size_t k = 0; k + 1 < items.size(); k += 2) {
    const PyNode& key = tree.at(items[k]);
    const PyNode& val = tree.at(items[k + 1]);
    if (key.kind != PyKind::Str || val.kind != PyKind::Tensor || !o.wants(key.s)) continue;
    ck.tensors.insert_or_assign(key.s, materialize(tree, tree.tensors[val.aux], zip, prefix,
                                                   what + ": tensor '" + key.s + "'", ck));
  }
  return ck;
}

Checkpoint load_checkpoint(const std::string& path, const LoadOptions& options) {
  if (is_dir(path)) return load_folder(path, options);
  return load_file(path, options, true);
}

}  // namespace dimba
