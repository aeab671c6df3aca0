// .pt -> safetensors without torch and without the engine: torch.save fixtures with known
// values (native/tests/data/make_torch_fixtures.py: every storage type, shared storages,
// strided and transposed views, a Parameter, a scalar, an empty tensor, protocol 4 + ZIP64,
// _rebuild_tensor_v3) convert to what the engine reads from them; hostile and damaged files (the engine's fixtures and
// its minimised fuzz corpus) are refused with a typed error and leave nothing behind; a cancel
// leaves nothing; an existing destination is never overwritten.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { addonPath, inspectCheckpoint } from '../../../main/engine/addon.js';
import { ConvertError } from '../../../main/services/models/convert/errors.js';
import { convertPtToSafetensors } from '../../../main/services/models/convert/pt-to-safetensors.js';
import { useTempFolders } from '../support/temp';

const FIXTURES = path.resolve('native/tests/data/torch');
const CORPUS = path.resolve('native/tests/data/fuzz-corpus/torch_zip');
const temp = useTempFolders();

interface Read {
  metadata: Record<string, string>;
  tensors: Map<string, { dtype: string; shape: number[]; bytes: Buffer }>;
}

/** A small strict safetensors reader for the assertions (independent of the code under test). */
function readSafetensors(file: string): Read {
  const buf = readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  expect((8 + n) % 8).toBe(0);
  const header = JSON.parse(buf.toString('utf8', 8, 8 + n)) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const data = buf.subarray(8 + n);
  const tensors = new Map<string, { dtype: string; shape: number[]; bytes: Buffer }>();
  let end = 0;
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    tensors.set(name, { dtype: t.dtype, shape: t.shape, bytes: data.subarray(t.data_offsets[0], t.data_offsets[1]) });
    end = Math.max(end, t.data_offsets[1]);
  }
  expect(end).toBe(data.length);
  return { metadata: header.__metadata__ as unknown as Record<string, string>, tensors };
}

const f32 = (b: Buffer) => Array.from(new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length)));
const i64 = (b: Buffer) => Array.from(new BigInt64Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length)), Number);
const half = (b: Buffer) => Array.from({ length: b.length / 2 }, (_, i) => b.readUInt16LE(2 * i));
const bf16 = (b: Buffer) => Array.from({ length: b.length / 2 }, (_, i) => new Float32Array(new Uint32Array([b.readUInt16LE(2 * i) << 16]).buffer)[0]);
const range = (n: number, scale = 1, start = 0) => Array.from({ length: n }, (_, i) => start + scale * i);

async function failure(p: Promise<unknown>): Promise<ConvertError> {
  const e = await p.then(
    () => undefined,
    (error: unknown) => error,
  );
  if (e instanceof ConvertError) return e;
  throw new Error(`expected a ConvertError, got ${String(e)}`);
}

describe('.pt to safetensors', () => {
  it('converts a Dimba-style training checkpoint losslessly: every dtype, shared and strided views', async () => {
    const dest = path.join(temp(), 'dimba.safetensors');
    const progress: number[] = [];
    const got = await convertPtToSafetensors(path.join(FIXTURES, 'dimba_state_dict.pt'), dest, { onProgress: (p) => progress.push(p.doneBytes) });
    expect(got).toMatchObject({ path: dest, tensors: 13 });
    const { metadata, tensors } = readSafetensors(dest);
    expect(metadata).toEqual({ format: 'pt', converted_from: 'dimba_state_dict.pt' });
    // The state_dict is unwrapped; "step" and "config" (not tensors) are dropped.
    expect([...tensors.keys()]).toEqual([
      'blocks.0.attn.weight', 'blocks.0.mlp.weight', 'blocks.0.proj.weight_t', 'counts', 'empty', 'mask',
      'param.weight', 'pos_embed', 'scalar', 'shared.a', 'shared.b', 'shared.c', 'x_embedder.proj.weight',
    ]);
    const t = (name: string) => tensors.get(name)!;
    expect([t('x_embedder.proj.weight').dtype, t('x_embedder.proj.weight').shape, f32(t('x_embedder.proj.weight').bytes)]).toEqual(['F32', [2, 3, 4], range(24)]);
    // f16 0.5 steps: 0x0000, 0x3800 (0.5), 0x3c00 (1), ...
    expect(t('blocks.0.attn.weight').dtype).toBe('F16');
    expect(half(t('blocks.0.attn.weight').bytes).slice(0, 3)).toEqual([0x0000, 0x3800, 0x3c00]);
    expect([t('blocks.0.mlp.weight').dtype, bf16(t('blocks.0.mlp.weight').bytes)]).toEqual(['BF16', range(8, 1, -4)]);
    expect(f32(t('shared.a').bytes)).toEqual(range(10));
    expect(f32(t('shared.b').bytes)).toEqual(range(10, 1, 10));
    expect([t('shared.c').shape, f32(t('shared.c').bytes)]).toEqual([[2, 2], [3, 4, 7, 8]]);
    // (3, 2) seen with stride (1, 3): element [i][j] is storage[i + 3j].
    expect([t('blocks.0.proj.weight_t').shape, f32(t('blocks.0.proj.weight_t').bytes)]).toEqual([[3, 2], [0, 3, 1, 4, 2, 5]]);
    // float64 and bool become what the engine makes of them when it reads the .pt.
    expect([t('pos_embed').dtype, f32(t('pos_embed').bytes)]).toEqual(['F32', [0, 0.25, 0.5, 0.75]]);
    expect([t('counts').dtype, i64(t('counts').bytes)]).toEqual(['I64', [1, 2, 3]]);
    expect([t('mask').dtype, [...t('mask').bytes]]).toEqual(['U8', [1, 0, 1]]);
    expect(f32(t('param.weight').bytes)).toEqual([1, 2]);
    expect([t('scalar').shape, f32(t('scalar').bytes)]).toEqual([[], [7.5]]);
    expect([t('empty').shape, t('empty').bytes.length]).toEqual([[0, 4], 0]);
    expect(progress[0]).toBe(0);
    expect(progress.at(-1)).toBe([...tensors.values()].reduce((a, x) => a + x.bytes.length, 0));
    expect(readdirSync(path.dirname(dest))).toEqual(['dimba.safetensors']);
  });

  it('reads protocol 4 (STACK_GLOBAL, MEMOIZE, FRAME), _rebuild_tensor_v3 over an untyped storage, and ZIP64', async () => {
    const dest = path.join(temp(), 'plain.safetensors');
    await convertPtToSafetensors(path.join(FIXTURES, 'plain_proto4_zip64.bin'), dest);
    const { tensors } = readSafetensors(dest);
    expect(f32(tensors.get('encoder.weight')!.bytes)).toEqual(range(6));
    expect([tensors.get('encoder.bf16')!.dtype, bf16(tensors.get('encoder.bf16')!.bytes)]).toEqual(['BF16', range(4, 2)]);
  });

  it.skipIf(!existsSync(addonPath()))('writes files the engine reads as it reads the .pt: same names, dtypes, shapes', async () => {
    const dir = temp();
    for (const fixture of ['dimba_state_dict.pt', 'plain_proto4_zip64.bin']) {
      const dest = path.join(dir, `${fixture}.safetensors`);
      await convertPtToSafetensors(path.join(FIXTURES, fixture), dest);
      const fromPt = await inspectCheckpoint(path.join(FIXTURES, fixture));
      const fromSt = await inspectCheckpoint(dest);
      const list = (r: typeof fromPt) => r.tensors.map((x) => [x.name, x.dtype, x.shape, x.bytes]).sort();
      expect(list(fromSt), fixture).toEqual(list(fromPt));
    }
  });

  it.skipIf(!existsSync(addonPath()))('accepts no file of the fuzz corpus that the engine refuses (it may be stricter)', async () => {
    const dir = temp();
    const laxer: string[] = [];
    for (const file of readdirSync(CORPUS)) {
      const engine = await inspectCheckpoint(path.join(CORPUS, file)).then(
        () => true,
        () => false,
      );
      const ours = await convertPtToSafetensors(path.join(CORPUS, file), path.join(dir, file)).then(
        () => true,
        () => false,
      );
      if (ours && !engine) laxer.push(file);
    }
    expect(laxer).toEqual([]);
  }, 120_000);

  it('refuses hostile and damaged files with a typed error and leaves nothing behind', async () => {
    const expected: Record<string, string> = {
      'hostile_posix_system.pt': 'E_UNSUPPORTED_FORMAT',
      'hostile_builtins_eval.pt': 'E_UNSUPPORTED_FORMAT',
      'hostile_subprocess_proto4.pt': 'E_UNSUPPORTED_FORMAT',
      'hostile_deep_marks.pt': 'E_BAD_FILE',
      'hostile_huge_length.pt': 'E_BAD_FILE',
      'hostile_huge_length8.pt': 'E_BAD_FILE',
      'hostile_missing_storage.pt': 'E_BAD_FILE',
      'hostile_short_storage.pt': 'E_BAD_FILE',
      'hostile_view_out_of_range.pt': 'E_BAD_FILE',
      'deflated.pt': 'E_UNSUPPORTED_FORMAT',
      'legacy_pickle.pt': 'E_UNSUPPORTED_FORMAT',
      // The engine refuses int8 tensors in a .pt, so the conversion does too.
      'int8_tensor.pt': 'E_UNSUPPORTED_FORMAT',
    };
    const dir = temp();
    for (const [file, code] of Object.entries(expected)) {
      const e = await failure(convertPtToSafetensors(path.join(FIXTURES, file), path.join(dir, `${file}.safetensors`)));
      expect(e.code, `${file}: ${e.message}`).toBe(code);
    }
    expect((await failure(convertPtToSafetensors(path.join(FIXTURES, 'hostile_posix_system.pt'), path.join(dir, 'x')))).message).toMatch(/posix\.system/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('never throws anything but a ConvertError on the engine\'s minimised fuzz corpus', async () => {
    const dir = temp();
    const files = readdirSync(CORPUS);
    expect(files.length).toBeGreaterThan(100);
    let converted = 0;
    for (const file of files) {
      const dest = path.join(dir, `${file}.safetensors`);
      try {
        await convertPtToSafetensors(path.join(CORPUS, file), dest);
        converted++;
        readSafetensors(dest);
      } catch (error) {
        if (!(error instanceof ConvertError)) throw new Error(`${file}: ${String(error)}`);
      }
    }
    expect(readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    expect(converted).toBeGreaterThan(0);
  }, 60_000);

  it('a cancel leaves nothing; an existing destination is not overwritten', async () => {
    const dir = temp();
    const controller = new AbortController();
    const dest = path.join(dir, 'out.safetensors');
    const e = await failure(
      convertPtToSafetensors(path.join(FIXTURES, 'dimba_state_dict.pt'), dest, { signal: controller.signal, onProgress: () => controller.abort() }),
    );
    expect(e.code).toBe('E_CANCELLED');
    expect(readdirSync(dir)).toEqual([]);
    writeFileSync(dest, 'mine');
    expect((await failure(convertPtToSafetensors(path.join(FIXTURES, 'dimba_state_dict.pt'), dest))).code).toBe('E_EXISTS');
    expect(readFileSync(dest, 'utf8')).toBe('mine');
    expect((await failure(convertPtToSafetensors(path.join(dir, 'nope.pt'), path.join(dir, 'n.safetensors')))).code).toBe('E_IO');
  });
});
