// A torch.save checkpoint (.pt / .bin) into safetensors, so the engine can mmap it instead of
// copying every tensor out of a zip. The result holds exactly what the engine reads from the
// .pt (native/src/io/load_checkpoint.h): each tensor keeps its shape and bytes (strided views
// are gathered into contiguous rows), float64 becomes float32 and bool uint8 as the engine
// converts them, int8/int16 tensors are refused as the engine refuses them; a Dimba training
// checkpoint's `state_dict` (else `model`) dict is unwrapped, non-tensor values are dropped.
// Atomic: bytes go to `<dest>.<random>.tmp`, are fsynced, and only a complete file is renamed
// to `dest`; a failure or a cancel removes the temporary file. The pickle is read by the
// restricted unpickler (unpickle.ts): hostile input is refused with a typed error.
import { randomBytes } from 'node:crypto';
import { open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { badFile, ConvertError } from './errors.js';
import { PyDict, SCALAR_BYTES, TensorRef, unpickleTorch, type TorchScalar } from './unpickle.js';
import { readZipIndex, type ZipEntry } from './zip-index.js';

export interface ConvertProgress {
  /** Tensor bytes written so far, of `totalBytes`. */
  doneBytes: number;
  totalBytes: number;
}

export interface ConvertOptions {
  signal?: AbortSignal;
  onProgress?: (progress: ConvertProgress) => void;
  /** Largest strided tensor gathered in memory; default 2 GiB (Dimba and T5 hold none this big). */
  maxGatherBytes?: number;
}

export interface ConvertResult {
  path: string;
  tensors: number;
  /** The file's size. */
  bytes: number;
}

const MAX_PICKLE_BYTES = 256 * 1024 * 1024;
const CHUNK = 8 * 1024 * 1024;

interface Planned {
  name: string;
  tensor: TensorRef;
  source: ZipEntry;
  /** The dtype written: the stored one, or what the engine converts it to. */
  dtype: 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'U8';
  /** Bytes of the stored elements, and of the written ones. */
  sourceBytes: number;
  nbytes: number;
  contiguous: boolean;
}

const WRITTEN: Partial<Record<TorchScalar, Planned['dtype']>> = { F32: 'F32', F16: 'F16', BF16: 'BF16', F64: 'F32', I64: 'I64', I32: 'I32', U8: 'U8', BOOL: 'U8' };

function isContiguous(t: TensorRef): boolean {
  let expected = 1;
  for (let k = t.size.length - 1; k >= 0; k--) {
    if (t.size[k] !== 1 && t.stride[k] !== expected) return false;
    expected *= t.size[k]!;
  }
  return true;
}

/** The archive's folder: torch writes `<archive>/data.pkl` with one folder name for every member. */
function archivePrefix(entries: Map<string, ZipEntry>, what: string): string {
  const pickles = [...entries.keys()].filter((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (pickles.length !== 1) throw badFile(what, pickles.length === 0 ? 'no data.pkl: not a torch.save archive' : 'more than one data.pkl');
  return pickles[0]!.slice(0, -'data.pkl'.length);
}

async function writeAll(fh: FileHandle, buf: Buffer, length: number, position: number): Promise<void> {
  let done = 0;
  while (done < length) {
    const { bytesWritten } = await fh.write(buf, done, length - done, position + done);
    if (bytesWritten <= 0) throw new ConvertError('E_IO', 'a write made no progress');
    done += bytesWritten;
  }
}

async function readEntry(fh: FileHandle, entry: ZipEntry): Promise<Buffer> {
  const buf = Buffer.alloc(entry.size);
  const { bytesRead } = await fh.read(buf, 0, entry.size, entry.offset);
  if (bytesRead !== entry.size) throw new ConvertError('E_IO', `short read of ${entry.name}`);
  return buf;
}

/** The tensors of the checkpoint, checked against their storages, in name order. */
async function plan(fh: FileHandle, what: string): Promise<Planned[]> {
  const size = (await fh.stat()).size;
  const entries = await readZipIndex(fh, size, what);
  const prefix = archivePrefix(entries, what);
  const order = entries.get(`${prefix}byteorder`);
  if (order && (await readEntry(fh, order)).toString('latin1') !== 'little') {
    throw new ConvertError('E_UNSUPPORTED_FORMAT', `${what}: a big-endian checkpoint`);
  }
  const pkl = entries.get(`${prefix}data.pkl`)!;
  if (pkl.size > MAX_PICKLE_BYTES) throw badFile(what, `data.pkl is ${pkl.size} bytes, more than a checkpoint's index needs`);
  let root = unpickleTorch(await readEntry(fh, pkl), what);
  if (!(root instanceof PyDict)) throw badFile(what, 'the checkpoint is not a dict of tensors');
  const wrapped = root.get('state_dict') ?? root.get('model');
  if (wrapped instanceof PyDict) root = wrapped;
  const planned = new Map<string, Planned>();
  for (const [key, value] of root.entries) {
    if (typeof key !== 'string' || !(value instanceof TensorRef)) continue;
    const source = entries.get(`${prefix}data/${value.storage.key}`);
    if (!source) throw badFile(what, `tensor ${key}: its storage ${value.storage.key} is not in the archive`);
    const storageBytes = value.storage.dtype === null ? value.storage.numel : value.storage.numel * SCALAR_BYTES[value.storage.dtype];
    if (source.size < storageBytes) throw badFile(what, `tensor ${key}: storage ${value.storage.key} holds ${source.size} bytes, ${storageBytes} declared`);
    const dtype = WRITTEN[value.dtype];
    if (!dtype) throw new ConvertError('E_UNSUPPORTED_FORMAT', `${what}: tensor ${key} is ${value.dtype}, which the engine does not load`);
    const count = value.size.reduce((a, b) => a * b, 1);
    planned.set(key, {
      name: key,
      tensor: value,
      source,
      dtype,
      sourceBytes: count * SCALAR_BYTES[value.dtype],
      nbytes: count * SCALAR_BYTES[dtype],
      contiguous: isContiguous(value),
    });
  }
  return [...planned.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The safetensors header: names in order, 8-byte aligned data section. */
function header(tensors: readonly Planned[], source: string): Buffer {
  const json: Record<string, unknown> = { __metadata__: { format: 'pt', converted_from: path.basename(source) } };
  let offset = 0;
  for (const t of tensors) {
    json[t.name] = { dtype: t.dtype, shape: t.tensor.size, data_offsets: [offset, offset + t.nbytes] };
    offset += t.nbytes;
  }
  let text = JSON.stringify(json);
  text += ' '.repeat((8 - ((Buffer.byteLength(text) + 8) % 8)) % 8);
  const out = Buffer.alloc(8 + Buffer.byteLength(text));
  out.writeBigUInt64LE(BigInt(Buffer.byteLength(text)), 0);
  out.write(text, 8);
  return out;
}

/** A strided view's elements in row-major order, read from the span of the storage it covers. */
async function gather(fh: FileHandle, t: Planned, maxBytes: number): Promise<Buffer> {
  const esize = SCALAR_BYTES[t.tensor.dtype];
  const { size, stride, offset } = t.tensor;
  let last = offset;
  for (let k = 0; k < size.length; k++) last += (size[k]! - 1) * stride[k]!;
  const spanBytes = (last - offset + 1) * esize;
  if (spanBytes > maxBytes || t.sourceBytes > maxBytes) {
    throw new ConvertError('E_UNSUPPORTED_FORMAT', `tensor ${t.name}: a strided view over ${spanBytes} bytes is larger than this converter gathers`);
  }
  const span = Buffer.alloc(spanBytes);
  const { bytesRead } = await fh.read(span, 0, spanBytes, t.source.offset + offset * esize);
  if (bytesRead !== spanBytes) throw new ConvertError('E_IO', `tensor ${t.name}: short read`);
  const out = Buffer.alloc(t.sourceBytes);
  const count = t.sourceBytes / esize;
  if (count === 0) return out;
  // Runs of the innermost dimension are copied whole when its stride is 1; the studio's event
  // loop gets a turn every few million elements, so a big transposed tensor does not freeze it.
  const rank = size.length;
  const run = rank > 0 && stride[rank - 1] === 1 ? size[rank - 1]! : 1;
  const index = new Array<number>(rank).fill(0);
  let sinceYield = 0;
  for (let i = 0; i < count; i += run) {
    let at = 0;
    for (let k = 0; k < rank; k++) at += index[k]! * stride[k]!;
    span.copy(out, i * esize, at * esize, (at + run) * esize);
    // Advance the index by `run` elements: past the innermost dimension when runs are whole rows.
    for (let k = run > 1 ? rank - 2 : rank - 1; k >= 0; k--) {
      if (++index[k]! < size[k]!) break;
      index[k] = 0;
    }
    sinceYield += run;
    if (sinceYield >= 1 << 22) {
      sinceYield = 0;
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  return out;
}

/** Stored bytes as written: float64 narrowed to float32 (the engine's own conversion); others as they are. */
function narrow(t: Planned, bytes: Buffer): Buffer {
  if (t.tensor.dtype !== 'F64') return bytes;
  const n = bytes.length / 8;
  const out = Buffer.alloc(n * 4);
  for (let i = 0; i < n; i++) out.writeFloatLE(bytes.readDoubleLE(8 * i), 4 * i);
  return out;
}

/** Converts `src` (a torch.save file) to `dest` (safetensors); see the file comment. */
export async function convertPtToSafetensors(src: string, dest: string, options: ConvertOptions = {}): Promise<ConvertResult> {
  const what = path.basename(src);
  const exists = await stat(dest).then(
    () => true,
    () => false,
  );
  if (exists) throw new ConvertError('E_EXISTS', `${dest} exists already; not overwritten`);
  const cancelled = (): void => {
    if (options.signal?.aborted) throw new ConvertError('E_CANCELLED', 'conversion cancelled');
  };
  const tmp = `${dest}.${randomBytes(4).toString('hex')}.tmp`;
  let input: FileHandle | undefined;
  let output: FileHandle | undefined;
  try {
    input = await open(src, 'r').catch((error: NodeJS.ErrnoException) => {
      throw new ConvertError('E_IO', `cannot open ${src}: ${error.code ?? error.message}`);
    });
    const tensors = await plan(input, what);
    if (tensors.length === 0) throw badFile(what, 'no tensors in the checkpoint');
    const totalBytes = tensors.reduce((a, t) => a + t.nbytes, 0);
    cancelled();
    output = await open(tmp, 'wx');
    const head = header(tensors, src);
    await writeAll(output, head, head.length, 0);
    let position = head.length;
    let doneBytes = 0;
    options.onProgress?.({ doneBytes, totalBytes });
    // Two buffers: the next chunk is read while the last one is written (one write in flight,
    // in file order).
    const size = Math.min(CHUNK, Math.max(1, totalBytes));
    const buffers = [Buffer.alloc(size), Buffer.alloc(size)];
    let which = 0;
    let writing: Promise<void> = Promise.resolve();
    const write = async (bytes: Buffer): Promise<void> => {
      await writing;
      const pending = writeAll(output!, bytes, bytes.length, position);
      // Awaited before the next write or at the end; this only keeps a failure from being
      // reported as unhandled while a read is in progress.
      pending.catch(() => undefined);
      writing = pending;
      position += bytes.length;
      doneBytes += bytes.length;
      options.onProgress?.({ doneBytes, totalBytes });
    };
    for (const t of tensors) {
      if (t.contiguous) {
        let from = t.source.offset + t.tensor.offset * SCALAR_BYTES[t.tensor.dtype];
        let left = t.sourceBytes;
        while (left > 0) {
          cancelled();
          const n = Math.min(left, size);
          const buf = buffers[which]!;
          which ^= 1;
          const { bytesRead } = await input.read(buf, 0, n, from);
          if (bytesRead !== n) throw badFile(what, `tensor ${t.name}: short read`);
          await write(narrow(t, buf.subarray(0, n)));
          from += n;
          left -= n;
        }
      } else {
        cancelled();
        await write(narrow(t, await gather(input, t, options.maxGatherBytes ?? 2 ** 31)));
      }
    }
    await writing;
    cancelled();
    await output.sync();
    await output.close();
    output = undefined;
    await rename(tmp, dest);
    return { path: dest, tensors: tensors.length, bytes: position };
  } catch (error) {
    await output?.close().catch(() => undefined);
    output = undefined;
    await rm(tmp, { force: true });
    if (error instanceof ConvertError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConvertError('E_IO', `converting ${what}: ${code ?? ''} ${(error as Error).message}`.trim());
  } finally {
    await input?.close();
  }
}
