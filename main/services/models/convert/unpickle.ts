// A restricted unpickler for the data.pkl of a torch.save archive (pickle protocols 2-5 as
// torch writes them). It knows only the globals torch uses to rebuild tensors and containers
// and interprets them as data constructors; any other global (posix.system, builtins.eval,
// ...) is refused with UNSUPPORTED_FORMAT naming it. Nothing is ever called. The machine has
// no recursion and bounded stacks, so hostile nesting cannot exhaust anything.
// The engine has its own reader of the same format (native/src/io/pickle.h); this one lets the
// studio convert a checkpoint without the engine.
import { badFile, ConvertError } from './errors.js';

export type TorchScalar = 'F32' | 'F16' | 'BF16' | 'F64' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

export const SCALAR_BYTES: Record<TorchScalar, number> = { F32: 4, F16: 2, BF16: 2, F64: 8, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

export class PyTuple {
  constructor(readonly items: PyValue[]) {}
}
export class PyFloat {
  constructor(readonly value: number) {}
}
export class PyDict {
  readonly entries: [PyValue, PyValue][] = [];
  /** Python semantics: the last assignment of a key wins. */
  get(key: string): PyValue | undefined {
    for (let i = this.entries.length - 1; i >= 0; i--) if (this.entries[i]![0] === key) return this.entries[i]![1];
    return undefined;
  }
}
export class StorageRef {
  constructor(
    readonly key: string,
    /** null: an untyped storage, counted in bytes. */
    readonly dtype: TorchScalar | null,
    readonly numel: number,
  ) {}
}
export class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly dtype: TorchScalar,
    /** In elements of `dtype`. */
    readonly offset: number,
    readonly size: number[],
    readonly stride: number[],
  ) {}
}

type Known =
  | { kind: 'ordered-dict' }
  | { kind: 'rebuild-tensor'; version: 1 | 2 | 3 }
  | { kind: 'rebuild-parameter'; withState: boolean }
  | { kind: 'rebuild-from-type' }
  | { kind: 'storage-type'; scalar: TorchScalar | null }
  | { kind: 'dtype'; scalar: TorchScalar }
  | { kind: 'size' }
  | { kind: 'tensor-class' };

export class PyGlobal {
  constructor(
    readonly qualified: string,
    readonly known: Known,
  ) {}
}

export type PyValue = null | boolean | number | bigint | string | Uint8Array | PyFloat | PyTuple | PyValue[] | PyDict | PyGlobal | StorageRef | TensorRef;

const STORAGES: Record<string, TorchScalar | null> = {
  FloatStorage: 'F32', HalfStorage: 'F16', BFloat16Storage: 'BF16', DoubleStorage: 'F64', LongStorage: 'I64',
  IntStorage: 'I32', ShortStorage: 'I16', CharStorage: 'I8', ByteStorage: 'U8', BoolStorage: 'BOOL', UntypedStorage: null,
};
const DTYPES: Record<string, TorchScalar> = {
  float32: 'F32', float16: 'F16', bfloat16: 'BF16', float64: 'F64', int64: 'I64', int32: 'I32', int16: 'I16', int8: 'I8', uint8: 'U8', bool: 'BOOL',
};

function knownGlobal(module: string, name: string): Known | null {
  const q = `${module}.${name}`;
  switch (q) {
    case 'collections.OrderedDict': return { kind: 'ordered-dict' };
    case 'torch._utils._rebuild_tensor': return { kind: 'rebuild-tensor', version: 1 };
    case 'torch._utils._rebuild_tensor_v2': return { kind: 'rebuild-tensor', version: 2 };
    case 'torch._utils._rebuild_tensor_v3': return { kind: 'rebuild-tensor', version: 3 };
    case 'torch._utils._rebuild_parameter': return { kind: 'rebuild-parameter', withState: false };
    case 'torch._utils._rebuild_parameter_with_state': return { kind: 'rebuild-parameter', withState: true };
    case 'torch._tensor._rebuild_from_type_v2': return { kind: 'rebuild-from-type' };
    case 'torch.Size': return { kind: 'size' };
    case 'torch.Tensor': case 'torch._tensor.Tensor': case 'torch.nn.parameter.Parameter': return { kind: 'tensor-class' };
    case 'torch.storage.UntypedStorage': return { kind: 'storage-type', scalar: null };
  }
  if (module === 'torch' && Object.hasOwn(STORAGES, name)) return { kind: 'storage-type', scalar: STORAGES[name]! };
  if (module === 'torch' && Object.hasOwn(DTYPES, name)) return { kind: 'dtype', scalar: DTYPES[name]! };
  return null;
}

export interface PickleLimits {
  /** Values created; a Dimba-L or T5-XXL data.pkl needs ~10^4. */
  maxValues: number;
  maxMarkDepth: number;
  maxRank: number;
}

const DEFAULT_LIMITS: PickleLimits = { maxValues: 1 << 22, maxMarkDepth: 256, maxRank: 8 };
const MAX_ELEMENTS = 2 ** 48;

/** The value data.pkl describes, with tensors as TensorRef views of StorageRefs. */
export function unpickleTorch(data: Uint8Array, what: string, limits: PickleLimits = DEFAULT_LIMITS): PyValue {
  const bad = (why: string): never => {
    throw badFile(what, `data.pkl: ${why}`);
  };
  const unsupported = (why: string): never => {
    throw new ConvertError('E_UNSUPPORTED_FORMAT', `${what}: data.pkl: ${why}`);
  };
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let pos = 0;
  let created = 0;
  const stack: PyValue[] = [];
  const marks: number[] = [];
  const memo = new Map<number, PyValue>();
  const decoder = new TextDecoder('utf-8', { fatal: true });

  const need = (n: number): void => {
    if (pos + n > data.length) bad('truncated');
  };
  const u8 = (): number => {
    need(1);
    return data[pos++]!;
  };
  const le = (n: 1 | 2 | 4 | 8): number => {
    need(n);
    let v: number;
    if (n === 1) v = view.getUint8(pos);
    else if (n === 2) v = view.getUint16(pos, true);
    else if (n === 4) v = view.getUint32(pos, true);
    else {
      const big = view.getBigUint64(pos, true);
      if (big > BigInt(data.length)) bad('a length is longer than the pickle');
      v = Number(big);
    }
    pos += n;
    return v;
  };
  const bytes = (n: number): Uint8Array => {
    need(n);
    const out = data.subarray(pos, pos + n);
    pos += n;
    return out;
  };
  const text = (n: number): string => {
    try {
      return decoder.decode(bytes(n));
    } catch {
      return bad('a string is not valid UTF-8');
    }
  };
  const push = (v: PyValue): void => {
    if (++created > limits.maxValues) bad(`more than ${limits.maxValues} values`);
    stack.push(v);
  };
  const pop = (): PyValue => {
    if (stack.length === 0 || (marks.length > 0 && stack.length <= marks[marks.length - 1]!)) bad('stack underflow');
    return stack.pop()!;
  };
  const top = (): PyValue => {
    if (stack.length === 0 || (marks.length > 0 && stack.length <= marks[marks.length - 1]!)) bad('stack underflow');
    return stack[stack.length - 1]!;
  };
  const popMark = (): PyValue[] => {
    const m = marks.pop();
    if (m === undefined) return bad('no MARK to pop to');
    return stack.splice(m);
  };
  const asInt = (v: PyValue, name: string): number => {
    if (typeof v !== 'number') return bad(`${name} is not an int`);
    return v;
  };
  const asInts = (v: PyValue, name: string): number[] => {
    const items = v instanceof PyTuple ? v.items : Array.isArray(v) ? v : bad(`${name} is not a tuple`);
    if (items.length > limits.maxRank) bad(`${name} has more than ${limits.maxRank} dims`);
    return items.map((x) => asInt(x, name));
  };
  const makeTensor = (a: PyValue[], dtypeArg: PyValue | undefined): TensorRef => {
    const storage = a[0];
    if (!(storage instanceof StorageRef)) return bad('a tensor rebuilt from something other than a storage');
    let dtype = storage.dtype;
    if (dtypeArg !== undefined) {
      if (!(dtypeArg instanceof PyGlobal) || dtypeArg.known.kind !== 'dtype') return bad('_rebuild_tensor_v3 dtype is not a torch dtype');
      const want = dtypeArg.known.scalar;
      if (dtype !== null && dtype !== want) bad(`a tensor of ${want} over a ${dtype} storage`);
      dtype = want;
    }
    if (dtype === null) return bad('a tensor over an untyped storage without a dtype');
    const esize = SCALAR_BYTES[dtype];
    const capacity = storage.dtype === null ? Math.floor(storage.numel / esize) : storage.numel;
    const offset = asInt(a[1] ?? null, 'storage offset');
    const size = asInts(a[2] ?? null, 'size');
    const stride = asInts(a[3] ?? null, 'stride');
    if (size.length !== stride.length) bad('size and stride have different ranks');
    if (offset < 0 || offset > capacity) bad(`storage offset ${offset} is outside the storage`);
    let count = 1;
    let last = offset;
    for (let k = 0; k < size.length; k++) {
      if (size[k]! < 0 || stride[k]! < 0) bad('a negative size or stride');
      count *= size[k]!;
      if (count > MAX_ELEMENTS) bad('the element count is absurd');
      if (size[k]! > 0) last += (size[k]! - 1) * stride[k]!;
    }
    if (count > 0 && last >= capacity) bad(`a view (offset ${offset}) reaches past its storage of ${capacity} elements`);
    return new TensorRef(storage, dtype, offset, size, stride);
  };
  const call = (fn: PyValue, args: PyValue, nested: boolean): PyValue => {
    if (!(fn instanceof PyGlobal)) return bad('REDUCE on something that is not a known callable');
    if (!(args instanceof PyTuple)) return bad('REDUCE arguments are not a tuple');
    const a = args.items;
    const arity = (lo: number, hi: number): void => {
      if (a.length < lo || a.length > hi) bad(`${fn.qualified} called with ${a.length} arguments`);
    };
    const k = fn.known;
    switch (k.kind) {
      case 'ordered-dict': {
        arity(0, 1);
        const d = new PyDict();
        if (a.length === 1) {
          const pairs = a[0] instanceof PyTuple ? a[0].items : Array.isArray(a[0]) ? a[0] : bad('OrderedDict argument is not a sequence of pairs');
          for (const pr of pairs) {
            const kv = pr instanceof PyTuple ? pr.items : Array.isArray(pr) ? pr : null;
            if (!kv || kv.length !== 2) bad('OrderedDict argument holds something other than a pair');
            d.entries.push([kv![0]!, kv![1]!]);
          }
        }
        return d;
      }
      case 'size':
        arity(1, 1);
        return new PyTuple(asInts(a[0]!, 'torch.Size'));
      case 'rebuild-tensor':
        if (k.version === 1) arity(4, 4);
        else if (k.version === 2) arity(6, 7);
        else arity(7, 8);
        return makeTensor(a, k.version === 3 ? a[6] : undefined);
      case 'rebuild-parameter':
        arity(k.withState ? 4 : 3, k.withState ? 4 : 3);
        if (!(a[0] instanceof TensorRef)) bad('a parameter rebuilt from something other than a tensor');
        return a[0]!;
      case 'rebuild-from-type': {
        // (func, type, args, state): a tensor with Python attributes, which are dropped.
        arity(4, 4);
        if (nested) bad('nested _rebuild_from_type_v2');
        if (!(a[1] instanceof PyGlobal) || a[1].known.kind !== 'tensor-class') bad('_rebuild_from_type_v2 for a type other than Tensor/Parameter');
        const r = call(a[0]!, a[2]!, true);
        if (!(r instanceof TensorRef)) bad('_rebuild_from_type_v2 did not rebuild a tensor');
        return r;
      }
      default:
        return unsupported(`calling ${fn.qualified} is not something torch.save emits`);
    }
  };
  const persistentLoad = (pid: PyValue): StorageRef => {
    const items = pid instanceof PyTuple ? pid.items : bad('a persistent id is not a tuple');
    if (items[0] !== 'storage') return typeof items[0] === 'string' ? unsupported(`persistent id of type '${items[0]}'`) : bad('a persistent id does not start with a string');
    if (items.length !== 5) bad('a storage persistent id needs 5 fields');
    const type = items[1];
    if (!(type instanceof PyGlobal) || type.known.kind !== 'storage-type') return bad('a storage persistent id does not name a storage type');
    if (typeof items[2] !== 'string' || typeof items[3] !== 'string') bad('a storage key or location is not a string');
    const numel = asInt(items[4]!, 'storage size');
    if (numel < 0 || numel > 2 ** 50) bad(`storage size ${numel} is absurd`);
    return new StorageRef(items[2] as string, type.known.scalar, numel);
  };
  const global = (module: string, name: string): PyGlobal => {
    const known = knownGlobal(module, name);
    if (!known) return unsupported(`pickle global '${module}.${name}' is not one torch uses to rebuild tensors; refusing it (nothing was executed)`);
    return new PyGlobal(`${module}.${name}`, known);
  };
  const memoGet = (key: number): PyValue => {
    if (!memo.has(key)) bad(`memo ${key} was never stored`);
    return memo.get(key)!;
  };
  const setItems = (target: PyValue, kv: PyValue[]): void => {
    if (!(target instanceof PyDict)) return bad('SETITEM on something that is not a dict');
    if (kv.length % 2 !== 0) bad('SETITEMS with an odd number of values');
    for (let i = 0; i < kv.length; i += 2) target.entries.push([kv[i]!, kv[i + 1]!]);
  };
  const appendItems = (target: PyValue, items: PyValue[]): void => {
    if (!Array.isArray(target)) return bad('APPEND on something that is not a list');
    target.push(...items);
  };
  const readLine = (): string => {
    const end = data.indexOf(0x0a, pos);
    if (end < 0 || end - pos > 256) bad('a GLOBAL name is not terminated');
    const s = text(end - pos);
    pos++;
    return s;
  };

  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80: // PROTO
        if (u8() > 5) unsupported('pickle protocol above 5');
        break;
      case 0x95: // FRAME: groups opcodes; every read is bounds-checked anyway
        le(8);
        break;
      case 0x2e: { // STOP
        if (marks.length > 0) bad('STOP inside a MARK');
        if (stack.length !== 1) bad(`STOP with ${stack.length} values on the stack`);
        return stack[0]!;
      }
      case 0x28: // MARK
        if (marks.length >= limits.maxMarkDepth) bad(`MARKs nested deeper than ${limits.maxMarkDepth}`);
        marks.push(stack.length);
        break;
      case 0x30: pop(); break; // POP
      case 0x31: popMark(); break; // POP_MARK
      case 0x32: push(top()); break; // DUP
      case 0x7d: push(new PyDict()); break; // EMPTY_DICT
      case 0x5d: push([]); break; // EMPTY_LIST
      case 0x29: push(new PyTuple([])); break; // EMPTY_TUPLE
      case 0x74: push(new PyTuple(popMark())); break; // TUPLE
      case 0x85: case 0x86: case 0x87: { // TUPLE1..3
        const n = op - 0x84;
        const items: PyValue[] = [];
        for (let i = 0; i < n; i++) items.unshift(pop());
        push(new PyTuple(items));
        break;
      }
      case 0x6c: push(popMark()); break; // LIST
      case 0x64: { // DICT
        const d = new PyDict();
        setItems(d, popMark());
        push(d);
        break;
      }
      case 0x61: { // APPEND
        const v = pop();
        appendItems(top(), [v]);
        break;
      }
      case 0x65: { // APPENDS
        const items = popMark();
        appendItems(top(), items);
        break;
      }
      case 0x73: { // SETITEM
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: { // SETITEMS
        const kv = popMark();
        setItems(top(), kv);
        break;
      }
      case 0x8c: push(text(le(1))); break; // SHORT_BINUNICODE
      case 0x58: push(text(le(4))); break; // BINUNICODE
      case 0x8d: push(text(le(8))); break; // BINUNICODE8
      case 0x55: push(text(le(1))); break; // SHORT_BINSTRING
      case 0x54: push(text(le(4))); break; // BINSTRING
      case 0x43: push(bytes(le(1))); break; // SHORT_BINBYTES
      case 0x42: push(bytes(le(4))); break; // BINBYTES
      case 0x8e: push(bytes(le(8))); break; // BINBYTES8
      case 0x4a: { // BININT
        need(4);
        push(view.getInt32(pos, true));
        pos += 4;
        break;
      }
      case 0x4b: push(le(1)); break; // BININT1
      case 0x4d: push(le(2)); break; // BININT2
      case 0x8a: case 0x8b: { // LONG1, LONG4: little-endian two's complement
        const n = op === 0x8a ? le(1) : le(4);
        if (n > 64) bad('an integer longer than 64 bytes');
        const b = bytes(n);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
        if (n > 0 && b[n - 1]! & 0x80) v -= 1n << BigInt(8 * n);
        push(v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
        break;
      }
      case 0x47: { // BINFLOAT (big-endian)
        need(8);
        push(new PyFloat(view.getFloat64(pos, false)));
        pos += 8;
        break;
      }
      case 0x4e: push(null); break; // NONE
      case 0x88: push(true); break; // NEWTRUE
      case 0x89: push(false); break; // NEWFALSE
      case 0x63: { // GLOBAL "module\nname\n"
        const module = readLine();
        push(global(module, readLine()));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') bad('STACK_GLOBAL of something other than two strings');
        push(global(module as string, name as string));
        break;
      }
      case 0x51: push(persistentLoad(pop())); break; // BINPERSID
      case 0x52: { // REDUCE
        const args = pop();
        const fn = pop();
        push(call(fn, args, false));
        break;
      }
      case 0x62: { // BUILD: state for a dict (_metadata) or a tensor; dropped
        pop();
        const target = top();
        if (!(target instanceof PyDict) && !(target instanceof TensorRef)) bad('BUILD on something other than a dict or a tensor');
        break;
      }
      case 0x71: memo.set(le(1), top()); break; // BINPUT
      case 0x72: memo.set(le(4), top()); break; // LONG_BINPUT
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
      case 0x68: push(memoGet(le(1))); break; // BINGET
      case 0x6a: push(memoGet(le(4))); break; // LONG_BINGET
      default:
        unsupported(`pickle opcode 0x${op.toString(16).padStart(2, '0')} at byte ${pos - 1} is not one torch.save emits`);
    }
  }
}
