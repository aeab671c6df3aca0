// One Dimba forward pass through the addon (loadDimba / dimbaForward) against the reference
// output in ../shared/golden, and the coded errors a caller gets for bad input.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { NativeEngineError, addonPath, dimbaForward, loadDimba, probeBackends } from '../../../main/engine/addon.js';

const golden = path.resolve(__dirname, '../../../../shared/golden');

/** The F32 and I64 tensors of a safetensors file, as Float32Arrays (golden io files hold only these). */
function readF32Tensors(file: string): Map<string, { shape: number[]; data: Float32Array }> {
  const bytes = readFileSync(file);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8')) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const [begin, end] = entry.data_offsets;
    const raw = bytes.subarray(8 + headerLength + begin, 8 + headerLength + end);
    const buffer = raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length);
    if (entry.dtype === 'F32') tensors.set(name, { shape: entry.shape, data: new Float32Array(buffer) });
    if (entry.dtype === 'I64') tensors.set(name, { shape: entry.shape, data: Float32Array.from(new BigInt64Array(buffer), Number) });
  }
  return tensors;
}

function relL2(got: Float32Array, want: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < want.length; i++) {
    num += (got[i]! - want[i]!) ** 2;
    den += want[i]! ** 2;
  }
  return Math.sqrt(num / den);
}

describe('a Dimba forward pass through the addon', () => {
  const io = readF32Tensors(path.join(golden, 'dimba-tiny.io.safetensors'));
  const x = io.get('input.x')!;
  const [B, , H, W] = x.shape as [number, number, number, number];
  const y = io.get('input.y')!;
  const inputs = {
    x: x.data,
    t: io.get('input.t')!.data,
    y: y.data,
    mask: io.get('input.mask')!.data,
    batch: B,
    height: H,
    width: W,
    textLength: y.shape[2]!,
  };
  const load = (backend: 'auto' | 'cpu' | 'vulkan' | 'cuda' = 'auto') =>
    loadDimba(path.join(golden, 'dimba-tiny.json'), path.join(golden, 'dimba-tiny.weights.safetensors'), 'f32', backend);
  const vulkan = existsSync(addonPath()) ? probeBackends()?.find((p) => p.name === 'vulkan') : undefined;

  it('matches the reference output of dimba-tiny within 1e-4', async () => {
    const handle = await load();
    const out = await dimbaForward(handle, inputs);
    expect(out.length).toBe(io.get('output')!.data.length);
    expect(relL2(out, io.get('output')!.data)).toBeLessThan(1e-4);
  });

  it('auto says where it runs and why (lavapipe is passed by: slower than the CPU backend)', async () => {
    const handle = await load();
    expect(handle.backend).toBe(vulkan?.available && vulkan.preferred ? 'vulkan' : 'cpu');
    expect(handle.backendReason).toMatch(/^auto: /);
  });

  it.skipIf(!vulkan?.available)('on vulkan matches the same reference within 1e-4', async () => {
    const handle = await load('vulkan');
    expect(handle.backend).toBe('vulkan');
    expect(relL2(await dimbaForward(handle, inputs), io.get('output')!.data)).toBeLessThan(1e-4);
  });

  it('an unavailable backend rejects with E_BACKEND_UNAVAILABLE', async () => {
    await expect(load('cuda')).rejects.toMatchObject({ code: 'E_BACKEND_UNAVAILABLE' });
  });

  it('answers inputs of the wrong size and a foreign handle with E_INVALID_ARGUMENT', async () => {
    const handle = await load();
    const short = dimbaForward(handle, { ...inputs, x: new Float32Array(3) });
    await expect(short).rejects.toMatchObject({ code: 'E_INVALID_ARGUMENT' });
    const foreign = dimbaForward({ inChannels: 4, outChannels: 8, captionChannels: 1, patchSize: 2 }, inputs);
    await expect(foreign).rejects.toMatchObject({ code: 'E_INVALID_ARGUMENT' });
  });

  it('reports a checkpoint that does not fit the config as E_MODEL_MISMATCH', async () => {
    const error: unknown = await loadDimba(path.join(golden, 'dimba-wide.json'), path.join(golden, 'dimba-tiny.weights.safetensors')).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(NativeEngineError);
    expect((error as NativeEngineError).code).toBe('E_MODEL_MISMATCH');
  });
});
