#include "io/pickle.h"

#include <cstring>
#include <unordered_map>

#include "core/error.h"

namespace dimba {

const char* torch_scalar_name(TorchScalar t) {
  switch (t) {
    case TorchScalar::F32: return "float32";
    case TorchScalar::F16: return "float16";
    case TorchScalar::BF16: return "bfloat16";
    case TorchScalar::F64: return "float64";
    case TorchScalar::I64: return "int64";
    case TorchScalar::I32: return "int32";
    case TorchScalar::I16: return "int16";
    case TorchScalar::I8: return "int8";
    case TorchScalar::U8: return "uint8";
    case TorchScalar::Bool: return "bool";
    case TorchScalar::Untyped: return "untyped";
  }
  return "?";
}

size_t torch_scalar_size(TorchScalar t) {
  switch (t) {
    case TorchScalar::F64: case TorchScalar::I64: return 8;
    case TorchScalar::F32: case TorchScalar::I32: return 4;
    case TorchScalar::F16: case TorchScalar::BF16: case TorchScalar::I16: return 2;
    default: return 1;
  }
}

uint32_t PickleTree::dict_get(uint32_t dict, const std::string& key) const {
  const PyNode& d = nodes[dict];
  if (d.kind != PyKind::Dict) return UINT32_MAX;
  for (size_t k = d.items.size(); k >= 2; k -= 2) {
    const PyNode& kn = nodes[d.items[k - 2]];
    if (kn.kind == PyKind::Str && kn.s == key) return d.items[k - 1];
  }
  return UINT32_MAX;
}

namespace {

// The globals a torch.save archive may name. Nothing else is ever resolved.
enum Known : int64_t {
  kOrderedDict, kRebuildTensor, kRebuildTensorV2, kRebuildTensorV3, kRebuildParameter,
  kRebuildParameterWithState, kRebuildFromTypeV2, kStorageType, kDTypeValue, kSize, kTensorClass
};

struct KnownGlobal {
  const char* module;
  const char* name;
  Known what;
  TorchScalar scalar;
};

// torch/_utils.py (rebuild functions), torch/__init__.py (legacy typed storage classes,
// which torch 2.x still names in persistent ids), torch/storage.py (UntypedStorage), and
// torch dtypes, which pickle as the global torch.<name> (torch/_tensor.py,
// _rebuild_tensor_v3). torch.Size pickles as Size(tuple).
const KnownGlobal kKnown[] = {
    {"collections", "OrderedDict", kOrderedDict, TorchScalar::Untyped},
    {"torch._utils", "_rebuild_tensor", kRebuildTensor, TorchScalar::Untyped},
    {"torch._utils", "_rebuild_tensor_v2", kRebuildTensorV2, TorchScalar::Untyped},
    {"torch._utils", "_rebuild_tensor_v3", kRebuildTensorV3, TorchScalar::Untyped},
    {"torch._utils", "_rebuild_parameter", kRebuildParameter, TorchScalar::Untyped},
    {"torch._utils", "_rebuild_parameter_with_state", kRebuildParameterWithState, TorchScalar::Untyped},
    {"torch._tensor", "_rebuild_from_type_v2", kRebuildFromTypeV2, TorchScalar::Untyped},
    {"torch", "FloatStorage", kStorageType, TorchScalar::F32},
    {"torch", "HalfStorage", kStorageType, TorchScalar::F16},
    {"torch", "BFloat16Storage", kStorageType, TorchScalar::BF16},
    {"torch", "DoubleStorage", kStorageType, TorchScalar::F64},
    {"torch", "LongStorage", kStorageType, TorchScalar::I64},
    {"torch", "IntStorage", kStorageType, TorchScalar::I32},
    {"torch", "ShortStorage", kStorageType, TorchScalar::I16},
    {"torch", "CharStorage", kStorageType, TorchScalar::I8},
    {"torch", "ByteStorage", kStorageType, TorchScalar::U8},
    {"torch", "BoolStorage", kStorageType, TorchScalar::Bool},
    {"torch", "UntypedStorage", kStorageType, TorchScalar::Untyped},
    {"torch.storage", "UntypedStorage", kStorageType, TorchScalar::Untyped},
    {"torch", "float32", kDTypeValue, TorchScalar::F32},
    {"torch", "float16", kDTypeValue, TorchScalar::F16},
    {"torch", "bfloat16", kDTypeValue, TorchScalar::BF16},
    {"torch", "float64", kDTypeValue, TorchScalar::F64},
    {"torch", "int64", kDTypeValue, TorchScalar::I64},
    {"torch", "int32", kDTypeValue, TorchScalar::I32},
    {"torch", "int16", kDTypeValue, TorchScalar::I16},
    {"torch", "int8", kDTypeValue, TorchScalar::I8},
    {"torch", "uint8", kDTypeValue, TorchScalar::U8},
    {"torch", "bool", kDTypeValue, TorchScalar::Bool},
    {"torch", "Size", kSize, TorchScalar::Untyped},
    {"torch", "Tensor", kTensorClass, TorchScalar::Untyped},
    {"torch._tensor", "Tensor", kTensorClass, TorchScalar::Untyped},
    {"torch.nn.parameter", "Parameter", kTensorClass, TorchScalar::Untyped},
};

// Opcodes (Lib/pickletools.py). Those of protocol 0/1 that torch.save never emits (text
// ints, PUT/GET, INST/OBJ, ...) are named so that the refusal says which one it met.
enum Op : uint8_t {
  MARK = '(', STOP = '.', POP = '0', POP_MARK = '1', DUP = '2', FLOAT = 'F', INT = 'I',
  BININT = 'J', BININT1 = 'K', LONG = 'L', BININT2 = 'M', NONE = 'N', PERSID = 'P',
  BINPERSID = 'Q', REDUCE = 'R', STRING = 'S', BINSTRING = 'T', SHORT_BINSTRING = 'U',
  UNICODE = 'V', BINUNICODE = 'X', APPEND = 'a', BUILD = 'b', GLOBAL = 'c', DICT = 'd',
  EMPTY_DICT = '}', APPENDS = 'e', GET = 'g', BINGET = 'h', INST = 'i', LONG_BINGET = 'j',
  LIST = 'l', EMPTY_LIST = ']', OBJ = 'o', PUT = 'p', BINPUT = 'q', LONG_BINPUT = 'r',
  SETITEM = 's', TUPLE = 't', EMPTY_TUPLE = ')', SETITEMS = 'u', BINFLOAT = 'G',
  PROTO = 0x80, NEWOBJ = 0x81, EXT1 = 0x82, EXT2 = 0x83, EXT4 = 0x84, TUPLE1 = 0x85,
  TUPLE2 = 0x86, TUPLE3 = 0x87, NEWTRUE = 0x88, NEWFALSE = 0x89, LONG1 = 0x8a, LONG4 = 0x8b,
  BINBYTES = 'B', SHORT_BINBYTES = 'C', SHORT_BINUNICODE = 0x8c, BINUNICODE8 = 0x8d,
  BINBYTES8 = 0x8e, EMPTY_SET = 0x8f, ADDITEMS = 0x90, FROZENSET = 0x91, NEWOBJ_EX = 0x92,
  STACK_GLOBAL = 0x93, MEMOIZE = 0x94, FRAME = 0x95, BYTEARRAY8 = 0x96, NEXT_BUFFER = 0x97,
  READONLY_BUFFER = 0x98,
};

const char* unsupported_op_name(uint8_t op) {
  switch (op) {
    case FLOAT: return "FLOAT"; case INT: return "INT"; case LONG: return "LONG";
    case PERSID: return "PERSID"; case STRING: return "STRING"; case UNICODE: return "UNICODE";
    case GET: return "GET"; case INST: return "INST"; case OBJ: return "OBJ"; case PUT: return "PUT";
    case EXT1: return "EXT1"; case EXT2: return "EXT2"; case EXT4: return "EXT4";
    case EMPTY_SET: return "EMPTY_SET"; case ADDITEMS: return "ADDITEMS";
    case FROZENSET: return "FROZENSET"; case NEWOBJ_EX: return "NEWOBJ_EX";
    case BYTEARRAY8: return "BYTEARRAY8"; case NEXT_BUFFER: return "NEXT_BUFFER";
    case READONLY_BUFFER: return "READONLY_BUFFER";
  }
  return nullptr;
}

const char* kind_name(PyKind k) {
  switch (k) {
    case PyKind::None: return "None"; case PyKind::Bool: return "bool"; case PyKind::Int: return "int";
    case PyKind::BigInt: return "big int"; case PyKind::Float: return "float"; case PyKind::Str: return "str";
    case PyKind::Bytes: return "bytes"; case PyKind::Tuple: return "tuple"; case PyKind::List: return "list";
    case PyKind::Dict: return "dict"; case PyKind::Global: return "global"; case PyKind::Storage: return "storage";
    case PyKind::Tensor: return "tensor";
  }
  return "?";
}

class Unpickler {
 public:
  Unpickler(const uint8_t* data, size_t size, const std::string& what, const PickleLimits& lim)
      : p_(data), size_(size), what_(what), lim_(lim) {}

  PickleTree run() {
    for (;;) {
      size_t at = pos_;
      uint8_t op = u8();
      if (step(op, at)) break;
    }
    return std::move(t_);
  }

 private:
  const uint8_t* p_;
  size_t size_, pos_ = 0;
  const std::string& what_;
  PickleLimits lim_;
  PickleTree t_;
  std::vector<uint32_t> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint32_t, uint32_t> memo_;

  [[noreturn]] void bad(const std::string& msg) const {
    throw EngineError(ErrorCode::BadFile, what_ + ": " + msg + " (pickle offset " + std::to_string(pos_) + ")");
  }
  [[noreturn]] void unsupported(const std::string& msg) const {
    throw EngineError(ErrorCode::UnsupportedFormat, what_ + ": " + msg);
  }

  // --- reading the byte stream; every length is checked against what is left ---
  void need(uint64_t n) {
    if (n > size_ - pos_) bad("truncated: needs " + std::to_string(n) + " more bytes, " + std::to_string(size_ - pos_) + " left");
  }
  uint8_t u8() { need(1); return p_[pos_++]; }
  uint64_t le(int n) {
    need(size_t(n));
    uint64_t v = 0;
    for (int k = n - 1; k >= 0; --k) v = v << 8 | p_[pos_ + size_t(k)];
    pos_ += size_t(n);
    return v;
  }
  std::string bytes(uint64_t n) {
    need(n);
    std::string s(reinterpret_cast<const char*>(p_ + pos_), size_t(n));
    pos_ += size_t(n);
    return s;
  }
  std::string line() {
    const void* nl = std::memchr(p_ + pos_, '\n', size_ - pos_);
    if (!nl) bad("truncated GLOBAL: no newline");
    size_t n = size_t(static_cast<const uint8_t*>(nl) - (p_ + pos_));
    std::string s = bytes(n);
    ++pos_;
    return s;
  }

  // --- the value stack; MARK starts a new frame that pops may not cross ---
  uint32_t node(PyKind k) {
    if (t_.nodes.size() >= lim_.max_nodes) bad("more than " + std::to_string(lim_.max_nodes) + " objects");
    t_.nodes.emplace_back();
    t_.nodes.back().kind = k;
    return uint32_t(t_.nodes.size() - 1);
  }
  PyNode& n(uint32_t i) { return t_.nodes[i]; }
  size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }
  void push(uint32_t i) { stack_.push_back(i); }
  uint32_t pop() {
    if (stack_.size() <= floor()) bad("stack underflow");
    uint32_t v = stack_.back();
    stack_.pop_back();
    return v;
  }
  uint32_t top() {
    if (stack_.size() <= floor()) bad("stack underflow");
    return stack_.back();
  }
  std::vector<uint32_t> pop_mark() {
    if (marks_.empty()) bad("no MARK on the stack");
    size_t m = marks_.back();
    marks_.pop_back();
    std::vector<uint32_t> items(stack_.begin() + long(m), stack_.end());
    stack_.resize(m);
    return items;
  }
  uint32_t make_seq(PyKind k, std::vector<uint32_t> items) {
    uint32_t i = node(k);
    n(i).items = std::move(items);
    return i;
  }
  uint32_t make_int(int64_t v) {
    uint32_t i = node(PyKind::Int);
    n(i).i = v;
    return i;
  }
  uint32_t make_str(PyKind k, std::string s) {
    uint32_t i = node(k);
    n(i).s = std::move(s);
    return i;
  }
  // LONG1/LONG4: little-endian two's complement of any length; more than 8 bytes does not
  // fit and is kept as an opaque BigInt (an error only if a tensor needs it).
  uint32_t make_long(uint64_t len) {
    need(len);
    if (len > 8) {
      pos_ += size_t(len);
      return node(PyKind::BigInt);
    }
    uint64_t v = 0;
    for (size_t k = size_t(len); k-- > 0;) v = v << 8 | p_[pos_ + k];
    if (len > 0 && len < 8 && (p_[pos_ + len - 1] & 0x80)) v |= ~uint64_t(0) << (8 * len);
    pos_ += size_t(len);
    return make_int(int64_t(v));
  }
  void memo_put(uint32_t key) {
    // The memo grows by at most one entry per opcode, so its size is bounded by the input.
    memo_[key] = top();
  }
  void memo_get(uint32_t key) {
    auto it = memo_.find(key);
    if (it == memo_.end()) bad("memo key " + std::to_string(key) + " was never stored");
    push(it->second);
  }

  // By value: STACK_GLOBAL passes strings of nodes, which node() below may move (an
  // AddressSanitizer run of the tests caught the use-after-free when they were references).
  uint32_t global(std::string module, std::string name) {
    for (const KnownGlobal& g : kKnown) {
      if (module == g.module && name == g.name) {
        uint32_t i = node(PyKind::Global);
        n(i).i = g.what;
        n(i).aux = uint32_t(g.scalar);
        n(i).s = module + "." + name;
        return i;
      }
    }
    unsupported("pickle global '" + module + "." + name +
                "' is not one torch uses to rebuild tensors; refusing to load (nothing was executed)");
  }

  // --- interpreting the whitelisted callables as data constructors ---
  int64_t as_int(uint32_t i, const char* what) {
    if (n(i).kind != PyKind::Int) bad(std::string(what) + " is a " + kind_name(n(i).kind) + ", not an int");
    return n(i).i;
  }
  std::vector<int64_t> as_ints(uint32_t i, const char* what) {
    const PyNode& v = n(i);
    if (v.kind != PyKind::Tuple && v.kind != PyKind::List) bad(std::string(what) + " is not a tuple");
    if (v.items.size() > lim_.max_rank) bad(std::string(what) + " has more than " + std::to_string(lim_.max_rank) + " dims");
    std::vector<int64_t> out;
    for (uint32_t e : v.items) out.push_back(as_int(e, what));
    return out;
  }

  uint32_t make_tensor(const std::vector<uint32_t>& a, bool has_dtype, uint32_t dtype_node) {
    if (n(a[0]).kind != PyKind::Storage) bad("tensor rebuilt from a " + std::string(kind_name(n(a[0]).kind)) + ", not a storage");
    const StorageRef& st = t_.storages[n(a[0]).aux];
    TensorRef t;
    t.storage = a[0];
    t.dtype = st.dtype;
    if (has_dtype) {
      const PyNode& d = n(dtype_node);
      if (d.kind != PyKind::Global || d.i != kDTypeValue) bad("_rebuild_tensor_v3 dtype is not a torch dtype");
      TorchScalar want = TorchScalar(d.aux);
      if (st.dtype != TorchScalar::Untyped && st.dtype != want)
        bad(std::string("tensor of ") + torch_scalar_name(want) + " over a " + torch_scalar_name(st.dtype) + " storage");
      t.dtype = want;
    }
    if (t.dtype == TorchScalar::Untyped) bad("tensor over an untyped storage without a dtype");
    // An untyped storage counts bytes; the view counts elements of the tensor's dtype.
    const uint64_t esize = torch_scalar_size(t.dtype);
    const uint64_t capacity = st.dtype == TorchScalar::Untyped ? st.numel / esize : st.numel;
    t.offset = as_int(a[1], "storage offset");
    t.size = as_ints(a[2], "size");
    t.stride = as_ints(a[3], "stride");
    if (t.size.size() != t.stride.size()) bad("size and stride have different ranks");
    if (t.offset < 0 || uint64_t(t.offset) > capacity) bad("storage offset " + std::to_string(t.offset) + " is outside the storage");
    unsigned __int128 count = 1, last = uint64_t(t.offset);
    for (size_t k = 0; k < t.size.size(); ++k) {
      if (t.size[k] < 0 || t.stride[k] < 0) bad("negative size or stride");
      count *= uint64_t(t.size[k]);
      if (count > (uint64_t(1) << 48)) bad("element count is absurd");
      if (t.size[k] > 0) last += (unsigned __int128)(uint64_t(t.size[k]) - 1) * uint64_t(t.stride[k]);
    }
    if (count > 0 && last >= capacity)
      bad("view (offset " + std::to_string(t.offset) + ") reaches past its storage of " + std::to_string(capacity) + " elements");
    uint32_t i = node(PyKind::Tensor);
    n(i).aux = uint32_t(t_.tensors.size());
    t_.tensors.push_back(std::move(t));
    return i;
  }

  uint32_t call(uint32_t fn, uint32_t args_node, bool nested) {
    const PyNode& f = n(fn);
    if (f.kind != PyKind::Global) bad(std::string("REDUCE on a ") + kind_name(f.kind) + ", not a callable");
    if (n(args_node).kind != PyKind::Tuple) bad("REDUCE arguments are not a tuple");
    const std::vector<uint32_t> a = n(args_node).items;
    const std::string fname = f.s;
    const int64_t which = f.i;  // `f` may dangle once a node is created below
    auto arity = [&](size_t lo, size_t hi) {
      if (a.size() < lo || a.size() > hi) bad(fname + " called with " + std::to_string(a.size()) + " arguments");
    };
    switch (Known(which)) {
      case kOrderedDict: {
        arity(0, 1);
        uint32_t d = node(PyKind::Dict);
        if (a.size() == 1) {
          const PyNode& src = n(a[0]);
          if (src.kind != PyKind::List && src.kind != PyKind::Tuple) bad("OrderedDict argument is not a sequence of pairs");
          std::vector<uint32_t> kv;
          for (uint32_t pr : src.items) {
            if ((n(pr).kind != PyKind::Tuple && n(pr).kind != PyKind::List) || n(pr).items.size() != 2)
              bad("OrderedDict argument holds something other than a pair");
            kv.push_back(n(pr).items[0]);
            kv.push_back(n(pr).items[1]);
          }
          n(d).items = std::move(kv);
        }
        return d;
      }
      case kSize:
        arity(1, 1);
        as_ints(a[0], "torch.Size");
        return make_seq(PyKind::Tuple, n(a[0]).items);
      case kRebuildTensor: arity(4, 4); return make_tensor(a, false, 0);
      case kRebuildTensorV2: arity(6, 7); return make_tensor(a, false, 0);
      case kRebuildTensorV3: arity(7, 8); return make_tensor(a, true, a[6]);
      case kRebuildParameter:
      case kRebuildParameterWithState:
        arity(which == kRebuildParameter ? 3 : 4, which == kRebuildParameter ? 3 : 4);
        if (n(a[0]).kind != PyKind::Tensor) bad("parameter rebuilt from a " + std::string(kind_name(n(a[0]).kind)));
        return a[0];
      case kRebuildFromTypeV2: {
        // (func, type, args, state): a tensor or Parameter with Python attributes; the
        // attributes are dropped, func must itself be one of the rebuild functions.
        arity(4, 4);
        if (nested) bad("nested _rebuild_from_type_v2");
        if (n(a[1]).kind != PyKind::Global || n(a[1]).i != kTensorClass)
          bad("_rebuild_from_type_v2 for a type other than Tensor/Parameter");
        uint32_t r = call(a[0], a[2], true);
        if (n(r).kind != PyKind::Tensor) bad("_rebuild_from_type_v2 did not rebuild a tensor");
        return r;
      }
      default:
        unsupported("calling " + fname + " is not something torch.save emits");
    }
  }

  uint32_t persistent_load(uint32_t pid) {
    const PyNode& t = n(pid);
    if (t.kind != PyKind::Tuple || t.items.empty() || n(t.items[0]).kind != PyKind::Str)
      bad("persistent id is not a tuple starting with a string");
    if (n(t.items[0]).s != "storage")
      unsupported("persistent id of type '" + n(t.items[0]).s + "' (only 'storage' is read)");
    if (t.items.size() != 5) bad("storage persistent id needs 5 fields");
    const PyNode& type = n(t.items[1]);
    if (type.kind != PyKind::Global || type.i != kStorageType) bad("storage persistent id does not name a storage type");
    if (n(t.items[2]).kind != PyKind::Str || n(t.items[3]).kind != PyKind::Str) bad("storage key or location is not a string");
    int64_t numel = as_int(t.items[4], "storage size");
    if (numel < 0 || uint64_t(numel) > (uint64_t(1) << 50)) bad("storage size " + std::to_string(numel) + " is absurd");
    StorageRef s;
    s.key = n(t.items[2]).s;
    s.location = n(t.items[3]).s;
    s.dtype = TorchScalar(type.aux);
    s.numel = uint64_t(numel);
    uint32_t i = node(PyKind::Storage);
    n(i).aux = uint32_t(t_.storages.size());
    t_.storages.push_back(std::move(s));
    return i;
  }

  // Executes one opcode; true at STOP.
  bool step(uint8_t op, size_t at) {
    switch (op) {
      case PROTO: {
        uint8_t v = u8();
        if (v > 5) unsupported("pickle protocol " + std::to_string(v));
        return false;
      }
      case FRAME: need(le(8)); return false;  // framing only groups opcodes; bounds-checked
      case STOP:
        t_.root = pop();
        return true;
      case MARK:
        if (marks_.size() >= lim_.max_mark_depth) bad("MARKs nested deeper than " + std::to_string(lim_.max_mark_depth));
        marks_.push_back(stack_.size());
        return false;
      case POP: pop(); return false;
      case POP_MARK: pop_mark(); return false;
      case DUP: push(top()); return false;
      case EMPTY_DICT: push(node(PyKind::Dict)); return false;
      case EMPTY_LIST: push(node(PyKind::List)); return false;
      case EMPTY_TUPLE: push(node(PyKind::Tuple)); return false;
      case TUPLE: push(make_seq(PyKind::Tuple, pop_mark())); return false;
      case TUPLE1: case TUPLE2: case TUPLE3: {
        size_t k = size_t(op - TUPLE1 + 1);
        std::vector<uint32_t> items(k);
        for (size_t j = k; j-- > 0;) items[j] = pop();
        push(make_seq(PyKind::Tuple, std::move(items)));
        return false;
      }
      case LIST: push(make_seq(PyKind::List, pop_mark())); return false;
      case DICT: {
        std::vector<uint32_t> kv = pop_mark();
        if (kv.size() % 2) bad("DICT with an odd number of items");
        push(make_seq(PyKind::Dict, std::move(kv)));
        return false;
      }
      case APPEND: {
        uint32_t v = pop();
        uint32_t l = top();
        if (n(l).kind != PyKind::List) bad(std::string("APPEND to a ") + kind_name(n(l).kind));
        n(l).items.push_back(v);
        return false;
      }
      case APPENDS: {
        std::vector<uint32_t> vs = pop_mark();
        uint32_t l = top();
        if (n(l).kind != PyKind::List) bad(std::string("APPENDS to a ") + kind_name(n(l).kind));
        n(l).items.insert(n(l).items.end(), vs.begin(), vs.end());
        return false;
      }
      case SETITEM: {
        uint32_t v = pop(), k = pop();
        uint32_t d = top();
        if (n(d).kind != PyKind::Dict) bad(std::string("SETITEM on a ") + kind_name(n(d).kind));
        n(d).items.push_back(k);
        n(d).items.push_back(v);
        return false;
      }
      case SETITEMS: {
        std::vector<uint32_t> kv = pop_mark();
        uint32_t d = top();
        if (n(d).kind != PyKind::Dict) bad(std::string("SETITEMS on a ") + kind_name(n(d).kind));
        if (kv.size() % 2) bad("SETITEMS with an odd number of items");
        n(d).items.insert(n(d).items.end(), kv.begin(), kv.end());
        return false;
      }
      case SHORT_BINUNICODE: push(make_str(PyKind::Str, bytes(le(1)))); return false;
      case BINUNICODE: push(make_str(PyKind::Str, bytes(le(4)))); return false;
      case BINUNICODE8: push(make_str(PyKind::Str, bytes(le(8)))); return false;
      case SHORT_BINSTRING: push(make_str(PyKind::Str, bytes(le(1)))); return false;
      case BINSTRING: push(make_str(PyKind::Str, bytes(le(4)))); return false;
      case SHORT_BINBYTES: push(make_str(PyKind::Bytes, bytes(le(1)))); return false;
      case BINBYTES: push(make_str(PyKind::Bytes, bytes(le(4)))); return false;
      case BINBYTES8: push(make_str(PyKind::Bytes, bytes(le(8)))); return false;
      case BININT1: push(make_int(int64_t(le(1)))); return false;
      case BININT2: push(make_int(int64_t(le(2)))); return false;
      case BININT: push(make_int(int64_t(int32_t(uint32_t(le(4)))))); return false;
      case LONG1: push(make_long(le(1))); return false;
      case LONG4: push(make_long(le(4))); return false;
      case BINFLOAT: {
        need(8);
        uint64_t bits = 0;
        for (int k = 0; k < 8; ++k) bits = bits << 8 | p_[pos_ + size_t(k)];  // big-endian
        pos_ += 8;
        uint32_t i = node(PyKind::Float);
        std::memcpy(&n(i).f, &bits, 8);
        push(i);
        return false;
      }
      case NONE: push(node(PyKind::None)); return false;
      case NEWTRUE: case NEWFALSE: {
        uint32_t i = node(PyKind::Bool);
        n(i).i = op == NEWTRUE;
        push(i);
        return false;
      }
      case BINPUT: memo_put(uint32_t(le(1))); return false;
      case LONG_BINPUT: memo_put(uint32_t(le(4))); return false;
      case MEMOIZE: memo_put(uint32_t(memo_.size())); return false;
      case BINGET: memo_get(uint32_t(le(1))); return false;
      case LONG_BINGET: memo_get(uint32_t(le(4))); return false;
      case GLOBAL: {
        std::string module = line();
        std::string name = line();
        push(global(module, name));
        return false;
      }
      case STACK_GLOBAL: {
        uint32_t name = pop(), module = pop();
        if (n(module).kind != PyKind::Str || n(name).kind != PyKind::Str) bad("STACK_GLOBAL needs two strings");
        push(global(n(module).s, n(name).s));
        return false;
      }
      case REDUCE: {
        uint32_t args = pop(), fn = pop();
        push(call(fn, args, false));
        return false;
      }
      case NEWOBJ: {
        uint32_t args = pop(), cls = pop();
        if (n(cls).kind != PyKind::Global || n(cls).i != kOrderedDict)
          unsupported("NEWOBJ of " + (n(cls).kind == PyKind::Global ? n(cls).s : std::string(kind_name(n(cls).kind))));
        (void)args;
        push(node(PyKind::Dict));
        return false;
      }
      case BUILD: {
        // torch's OrderedDicts carry state (a state_dict's _metadata); it is dropped. No
        // other object torch.save emits is BUILT.
        uint32_t state = pop();
        uint32_t obj = top();
        (void)state;
        if (n(obj).kind != PyKind::Dict && n(obj).kind != PyKind::Tensor)
          unsupported(std::string("BUILD on a ") + kind_name(n(obj).kind));
        return false;
      }
      case BINPERSID: push(persistent_load(pop())); return false;
      default: {
        const char* name = unsupported_op_name(op);
        if (name) unsupported(std::string("pickle opcode ") + name + " is not one torch.save emits");
        pos_ = at;
        bad("byte 0x" + std::string(1, "0123456789abcdef"[op >> 4]) + "0123456789abcdef"[op & 15] +
            " is not a pickle opcode");
      }
    }
  }
};

}  // namespace

PickleTree unpickle_torch(const uint8_t* data, size_t size, const std::string& what,
                          const PickleLimits& limits) {
  return Unpickler(data, size, what, limits).run();
}

}  // namespace dimba
