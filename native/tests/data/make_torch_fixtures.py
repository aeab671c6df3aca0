#!/usr/bin/env python3
"""Generates the torch checkpoint fixtures under torch/ without torch (python3 stdlib only).

Reproduces what torch.save writes (torch/serialization.py `_save`, and the zip writer in
caffe2/serialize/inline_container.cc):
  - a zip of STORED entries inside one folder: <archive>/data.pkl, <archive>/byteorder,
    <archive>/data/<key> per storage, <archive>/version, <archive>/.data/serialization_id;
  - every entry's data 64-byte aligned by an 'FB' extra field padded with 'Z';
  - data.pkl pickled at protocol 2 with a persistent_id hook that turns each storage into
    ('storage', torch.<Type>Storage, '<key>', 'cpu', numel) and tensors reduced to
    torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks).
Fake `torch` modules in sys.modules make the standard pickle module emit the very same
GLOBAL / BINPERSID / REDUCE sequences. Values are known to the test (aranges).
Hostile fixtures replace data.pkl with pickles that must be refused.

Run: python3 native/tests/data/make_torch_fixtures.py   (rewrites native/tests/data/torch/)
"""
import collections
import json
import os
import pickle
import struct
import sys
import types
import zlib

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "torch")

# --- fake torch: just enough names for pickle to find by module + qualname ---------------
torch = types.ModuleType("torch")
torch_utils = types.ModuleType("torch._utils")
torch_storage = types.ModuleType("torch.storage")
torch.__path__ = []  # a package, so that torch._utils resolves
sys.modules.update({"torch": torch, "torch._utils": torch_utils, "torch.storage": torch_storage})

STORAGE_TYPES = {  # name -> (struct format, element size)
    "FloatStorage": ("f", 4), "HalfStorage": ("e", 2), "BFloat16Storage": (None, 2),
    "DoubleStorage": ("d", 8), "LongStorage": ("q", 8), "IntStorage": ("i", 4),
    "ByteStorage": ("B", 1), "BoolStorage": ("?", 1), "CharStorage": ("b", 1),
}
for _name in STORAGE_TYPES:
    _cls = type(_name, (), {"__module__": "torch"})
    setattr(torch, _name, _cls)
torch_storage.UntypedStorage = type("UntypedStorage", (), {"__module__": "torch.storage"})


class _DType:
    """torch.dtype pickles as the global torch.<name> (its __reduce__ returns the name)."""
    __module__ = "torch"

    def __init__(self, name):
        self.name = name

    def __reduce__(self):
        return self.name


for _n in ("float32", "float16", "bfloat16", "float64", "int64"):
    setattr(torch, _n, _DType(_n))


def _make_fn(module, name):
    def fn(*args):
        raise RuntimeError("fixture stand-in is never called")
    fn.__module__ = module.__name__
    fn.__name__ = fn.__qualname__ = name
    setattr(module, name, fn)
    return fn


_rebuild_tensor_v2 = _make_fn(torch_utils, "_rebuild_tensor_v2")
_rebuild_tensor_v3 = _make_fn(torch_utils, "_rebuild_tensor_v3")
_rebuild_parameter = _make_fn(torch_utils, "_rebuild_parameter")


def bf16_bytes(values):
    out = b""
    for v in values:  # round to nearest even, as torch does
        u = struct.unpack("<I", struct.pack("<f", v))[0]
        u += 0x7FFF + ((u >> 16) & 1)
        out += struct.pack("<H", (u >> 16) & 0xFFFF)
    return out


class Storage:
    def __init__(self, type_name, values):
        fmt, esize = STORAGE_TYPES[type_name]
        self.type_name = type_name
        self.numel = len(values)
        self.data = bf16_bytes(values) if fmt is None else struct.pack("<%d%s" % (len(values), fmt), *values)


class Tensor:
    def __init__(self, storage, offset, size, stride=None):
        if stride is None:  # row-major
            stride, acc = [], 1
            for d in reversed(size):
                stride.insert(0, acc)
                acc *= d
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    def __reduce_ex__(self, proto):
        # torch/_tensor.py Tensor._reduce_ex_internal for a plain CPU tensor.
        return (_rebuild_tensor_v2, (self.storage, self.offset, self.size, self.stride, False,
                                     collections.OrderedDict()))


class Parameter:
    def __init__(self, t):
        self.t = t

    def __reduce_ex__(self, proto):  # torch/nn/parameter.py
        return (_rebuild_parameter, (self.t, False, collections.OrderedDict()))


class TensorV3(Tensor):
    """A tensor over an untyped storage with an explicit dtype (torch._utils._rebuild_tensor_v3)."""
    def __init__(self, storage, dtype, offset, size):
        super().__init__(storage, offset, size)
        self.dtype = dtype

    def __reduce_ex__(self, proto):
        return (_rebuild_tensor_v3, (self.storage, self.offset, self.size, self.stride, False,
                                     collections.OrderedDict(), self.dtype))


class UntypedBytes:
    def __init__(self, data):
        self.type_name, self.data, self.numel = None, data, len(data)


def pickle_with_storages(obj, protocol=2):
    """Pickles like torch.save: storages become persistent ids, keys in first-seen order."""
    keys = {}
    import io
    buf = io.BytesIO()
    p = pickle.Pickler(buf, protocol=protocol)

    def persistent_id(o):
        if isinstance(o, (Storage, UntypedBytes)):
            key = keys.setdefault(id(o), (str(len(keys)), o))[0]
            stype = torch_storage.UntypedStorage if o.type_name is None else getattr(torch, o.type_name)
            return ("storage", stype, key, "cpu", o.numel)
        return None

    p.persistent_id = persistent_id
    p.dump(obj)
    return buf.getvalue(), [(k, o.data) for k, o in keys.values()]


# --- the zip writer: torch's layout, own code so that alignment and ZIP64 are exact ------
def write_zip(path, records, zip64=False, method=0):
    out = bytearray()
    central = []
    for name, data in records:
        nb = name.encode()
        crc = zlib.crc32(data) & 0xFFFFFFFF
        payload = data
        if method == 8:
            c = zlib.compressobj(6, zlib.DEFLATED, -15)
            payload = c.compress(data) + c.flush()
        local_extra = b""
        if zip64:  # miniz's local ZIP64 field: uncompressed then compressed size
            local_extra += struct.pack("<HHQQ", 1, 16, len(data), len(payload))
        # 'FB' padding so that the data starts at a multiple of 64 (inline_container.cc).
        start = len(out) + 30 + len(nb) + len(local_extra) + 4
        pad = (64 - start % 64) % 64
        local_extra += b"FB" + struct.pack("<H", pad) + b"Z" * pad
        offset = len(out)
        sz32 = 0xFFFFFFFF if zip64 else len(data)
        csz32 = 0xFFFFFFFF if zip64 else len(payload)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 45 if zip64 else 20, 0, method, 0, 0x21,
                           crc, csz32, sz32, len(nb), len(local_extra))
        out += nb + local_extra + payload
        central.append((nb, crc, len(data), len(payload), offset))
    cd_start = len(out)
    for nb, crc, size, csize, offset in central:
        extra = b""
        if zip64:
            extra = struct.pack("<HHQQQ", 1, 24, size, csize, offset)
        out += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45 if zip64 else 20, 45 if zip64 else 20,
                           0, method, 0, 0x21, crc,
                           0xFFFFFFFF if zip64 else csize, 0xFFFFFFFF if zip64 else size,
                           len(nb), len(extra), 0, 0, 0, 0, 0xFFFFFFFF if zip64 else offset)
        out += nb + extra
    cd_size = len(out) - cd_start
    n = len(central)
    if zip64:
        z64 = len(out)
        out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, n, n, cd_size, cd_start)
        out += struct.pack("<IIQI", 0x07064B50, 0, z64, 1)
        out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    else:
        out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, n, n, cd_size, cd_start, 0)
    with open(path, "wb") as f:
        f.write(out)


def torch_save(path, obj, archive="archive", protocol=2, pkl=None, zip64=False, method=0,
               extra_storages=()):
    data_pkl, storages = pickle_with_storages(obj, protocol)
    if pkl is not None:
        data_pkl = pkl
    records = [(archive + "/data.pkl", data_pkl), (archive + "/byteorder", b"little")]
    records += [(archive + "/data/" + k, d) for k, d in list(storages) + list(extra_storages)]
    records += [(archive + "/version", b"3\n"),
                (archive + "/.data/serialization_id", b"1234567890123456789012345678901234567890")]
    write_zip(os.path.join(OUT, path), records, zip64=zip64, method=method)


def state_dict(items):
    sd = collections.OrderedDict(items)
    # nn.Module.state_dict() attaches _metadata; pickle writes it as BUILD state.
    sd._metadata = collections.OrderedDict([("", {"version": 1})])
    return sd


def arange(n, scale=1.0, start=0.0):
    return [start + scale * i for i in range(n)]


def main():
    os.makedirs(os.path.join(OUT, "sharded"), exist_ok=True)

    # 1. A Dimba-style training checkpoint: {'state_dict': ..., plus non-tensor entries}.
    shared = Storage("FloatStorage", arange(20))          # three views share it
    tsrc = Storage("FloatStorage", arange(6))             # (2,3) seen transposed
    sd = state_dict([
        ("x_embedder.proj.weight", Tensor(Storage("FloatStorage", arange(24)), 0, (2, 3, 4))),
        ("blocks.0.attn.weight", Tensor(Storage("HalfStorage", arange(12, 0.5)), 0, (3, 4))),
        ("blocks.0.mlp.weight", Tensor(Storage("BFloat16Storage", arange(8, 1.0, -4.0)), 0, (8,))),
        ("shared.a", Tensor(shared, 0, (2, 5))),
        ("shared.b", Tensor(shared, 10, (10,))),
        ("shared.c", Tensor(shared, 3, (2, 2), (4, 1))),   # rows 3..4 and 7..8: strided
        ("blocks.0.proj.weight_t", Tensor(tsrc, 0, (3, 2), (1, 3))),
        ("pos_embed", Tensor(Storage("DoubleStorage", arange(4, 0.25)), 0, (1, 4))),
        ("counts", Tensor(Storage("LongStorage", [1, 2, 3]), 0, (3,))),
        ("mask", Tensor(Storage("BoolStorage", [True, False, True]), 0, (3,))),
        ("param.weight", Parameter(Tensor(Storage("FloatStorage", [1.0, 2.0]), 0, (2,)))),
        ("scalar", Tensor(Storage("FloatStorage", [7.5]), 0, ())),
        ("empty", Tensor(Storage("FloatStorage", []), 0, (0, 4))),
    ])
    torch_save("dimba_state_dict.pt", {"state_dict": sd, "step": 1000,
                                       "config": {"name": "dimba-test", "lr": 1e-4}})

    # 2. HF-style plain state dict at protocol 4 (STACK_GLOBAL, MEMOIZE, FRAME), with a
    #    _rebuild_tensor_v3 tensor over an untyped storage, in a ZIP64 archive.
    torch_save("plain_proto4_zip64.bin", state_dict([
        ("encoder.weight", Tensor(Storage("FloatStorage", arange(6)), 0, (2, 3))),
        ("encoder.bf16", TensorV3(UntypedBytes(bf16_bytes(arange(4, 2.0))), torch.bfloat16, 0, (4,))),
    ]), protocol=4, zip64=True)

    # 3. T5-style sharded checkpoint: encoder in shard 1, decoder in shard 2 (older torch
    #    named the archive folder after the file).
    shards = {
        "pytorch_model-00001-of-00002.bin": [("shared.weight", arange(6)), ("encoder.block.0.w", arange(4, 1.0, 10.0))],
        "pytorch_model-00002-of-00002.bin": [("decoder.block.0.w", arange(4, 1.0, 20.0)), ("lm_head.weight", arange(2, 1.0, 30.0))],
    }
    weight_map = {}
    for fname, tensors in shards.items():
        torch_save(os.path.join("sharded", fname),
                   state_dict([(n, Tensor(Storage("FloatStorage", v), 0, (len(v),))) for n, v in tensors]),
                   archive=fname[:-4])
        for n, _ in tensors:
            weight_map[n] = fname
    with open(os.path.join(OUT, "sharded", "pytorch_model.bin.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": 64}, "weight_map": weight_map}, f, indent=2)

    # 4. Hostile and malformed archives (each must be refused with a typed error).
    class Evil:
        def __init__(self, fn, arg):
            self.fn, self.arg = fn, arg

        def __reduce__(self):
            return (self.fn, (self.arg,))

    torch_save("hostile_posix_system.pt", {"state_dict": Evil(os.system, "touch /tmp/dimba_pwned")})
    # Protocol 3: at protocol 2 pickle would spell the module '__builtin__'.
    torch_save("hostile_builtins_eval.pt", {"x": Evil(eval, "__import__('os').system('touch /tmp/dimba_pwned')")},
               protocol=3)
    import subprocess
    torch_save("hostile_subprocess_proto4.pt", {"x": Evil(subprocess.Popen, "touch /tmp/dimba_pwned")}, protocol=4)
    # 1000 MARKs: past the nesting limit (a recursive unpickler would recurse once per MARK).
    torch_save("hostile_deep_marks.pt", {}, pkl=b"\x80\x02" + b"(" * 1000 + b"}.")
    # 20000 nested lists under one key: legal, must load (no tensors) without recursion.
    deep = b"\x80\x02}X\x01\x00\x00\x00a" + b"]" * 20000 + b"a" * 19999 + b"s."
    torch_save("deep_nested_lists.pt", {}, pkl=deep)
    # A string that claims 4 GB, and one that claims 2^62 bytes.
    torch_save("hostile_huge_length.pt", {}, pkl=b"\x80\x02}X\xf0\xff\xff\xffabc")
    torch_save("hostile_huge_length8.pt", {}, pkl=b"\x80\x04}\x8d" + struct.pack("<Q", 1 << 62) + b"abc")
    # A persistent id naming a storage that is not in the archive.
    good_pkl, good_storages = pickle_with_storages({"w": Tensor(Storage("FloatStorage", arange(4)), 0, (4,))})
    torch_save("hostile_missing_storage.pt", {}, pkl=good_pkl.replace(b"X\x01\x00\x00\x000", b"X\x02\x00\x00\x0099"),
               extra_storages=good_storages)
    # A view reaching past its storage (offset 2 + 4 elements over a 4-element storage).
    torch_save("hostile_view_out_of_range.pt", {"w": Tensor(Storage("FloatStorage", arange(4)), 2, (4,))})
    # A storage entry shorter than the pickle claims.
    lying_pkl, lying_st = pickle_with_storages({"w": Tensor(Storage("FloatStorage", arange(4)), 0, (4,))})
    torch_save("hostile_short_storage.pt", {}, pkl=lying_pkl, extra_storages=[(k, d[:8]) for k, d in lying_st])
    # DEFLATE-compressed entries (re-zipped by hand): refused, with a hint.
    torch_save("deflated.pt", {"w": Tensor(Storage("FloatStorage", arange(4)), 0, (4,))}, method=8)
    # int8 tensors: a dtype the engine does not read.
    torch_save("int8_tensor.pt", {"q": Tensor(Storage("CharStorage", [1, -2, 3]), 0, (3,))})
    # Legacy (pre-1.6) torch.save: a bare pickle starting with the magic number.
    with open(os.path.join(OUT, "legacy_pickle.pt"), "wb") as f:
        f.write(b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.\x80\x02M\xe9\x03.")


if __name__ == "__main__":
    main()
