// A restricted unpickler for the data.pkl of a torch.save archive. It understands the
// opcodes of pickle protocols 2-5 that torch.save emits and knows only the globals torch
// uses to rebuild tensors and containers (torch/_utils.py, torch/serialization.py); any
// other global (posix.system, builtins.eval, ...) is refused with UnsupportedFormat naming
// it. Nothing is ever called: "rebuild" globals are interpreted here as data constructors.
// The result is an arena of values (no recursion anywhere, so hostile nesting or cycles
// built through the memo cannot exhaust the stack or leak).
// defines: TorchScalar, PyKind, PyNode, StorageRef, TensorRef, PickleTree, unpickle_torch,
//          torch_scalar_name, torch_scalar_size
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace dimba {

// Element types of torch storages; wider than DType because a checkpoint may hold types
// the engine does not compute with (F64 is converted on load, the rest refused by name).
enum class TorchScalar : uint8_t { F32, F16, BF16, F64, I64, I32, I16, I8, U8, Bool, Untyped };
const char* torch_scalar_name(TorchScalar t);
size_t torch_scalar_size(TorchScalar t);  // Untyped counts bytes: 1

enum class PyKind : uint8_t {
  None, Bool, Int, BigInt, Float, Str, Bytes, Tuple, List, Dict, Global, Storage, Tensor
};

// ('storage', torch.FloatStorage, '<key>', 'cpu', numel): the persistent id torch.save
// writes for each storage; its bytes are the zip entry <archive>/data/<key>.
struct StorageRef {
  std::string key;
  TorchScalar dtype = TorchScalar::Untyped;
  uint64_t numel = 0;  // elements of dtype (bytes for untyped storages)
  std::string location;
};

// A strided view of a storage, validated against the storage's declared numel.
struct TensorRef {
  uint32_t storage = 0;  // node index of the StorageRef
  TorchScalar dtype = TorchScalar::F32;
  int64_t offset = 0;    // in elements of dtype
  std::vector<int64_t> size, stride;
};

struct PyNode {
  PyKind kind = PyKind::None;
  int64_t i = 0;                  // Bool, Int; Global: which known global
  double f = 0;                   // Float
  std::string s;                  // Str, Bytes; Global: "module.name"
  std::vector<uint32_t> items;    // Tuple, List; Dict: key, value, key, value, ...
  uint32_t aux = 0;               // Storage/Tensor: index into PickleTree::storages/tensors
};

struct PickleTree {
  std::vector<PyNode> nodes;
  std::vector<StorageRef> storages;
  std::vector<TensorRef> tensors;
  uint32_t root = 0;

  const PyNode& at(uint32_t i) const { return nodes[i]; }
  // Value of `key` in a Dict node (last assignment wins, as in Python), or UINT32_MAX.
  uint32_t dict_get(uint32_t dict, const std::string& key) const;
};

struct PickleLimits {
  size_t max_nodes = size_t(1) << 22;  // a Dimba-L or T5-XXL data.pkl needs ~10^4
  size_t max_mark_depth = 256;         // torch nests MARKs a handful deep
  size_t max_rank = 8;
};

// Throws EngineError: BadFile for malformed or truncated input, UnsupportedFormat for a
// global or opcode outside torch's vocabulary (the message names it).
PickleTree unpickle_torch(const uint8_t* data, size_t size, const std::string& what,
                          const PickleLimits& limits = {});

}  // namespace dimba
