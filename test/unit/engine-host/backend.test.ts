import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { selectBackend } from '../../../main/engine-host/backend.js';
import { estimateModelBytes } from '../../../main/engine-host/model-size.js';
import { useTempFolders } from '../support/temp.js';

const cpuOnly = [
  { name: 'cpu', available: true, detail: 'reference' },
  { name: 'vulkan', available: false, detail: 'no Vulkan device' },
];

describe('backend selection', () => {
  it('auto takes the fastest available and says why the others were skipped', () => {
    const c = selectBackend('auto', cpuOnly);
    expect(c.backend).toBe('cpu');
    expect(c.reason).toMatch(/cuda: not compiled/);
    expect(c.reason).toMatch(/vulkan: no Vulkan device/);
    expect(selectBackend('auto', [...cpuOnly, { name: 'cuda', available: true, detail: 'H100' }]).backend).toBe('cuda');
  });

  it('a chosen backend that is unavailable falls back to cpu with the reason', () => {
    const c = selectBackend('vulkan', cpuOnly);
    expect(c.backend).toBe('cpu');
    expect(c.reason).toMatch(/vulkan was chosen in settings but is unavailable \(no Vulkan device\)/);
  });

  it('auto passes by a Vulkan device that is slower than the CPU backend (lavapipe), and takes a GPU', () => {
    const lavapipe = [{ name: 'cpu', available: true, detail: 'reference' }, { name: 'vulkan', available: true, preferred: false, detail: 'llvmpipe (a CPU driver)' }];
    expect(selectBackend('auto', lavapipe)).toMatchObject({ backend: 'cpu', reason: expect.stringMatching(/vulkan: llvmpipe \(a CPU driver\), slower than the CPU backend/) });
    // Named in settings, it is used all the same.
    expect(selectBackend('vulkan', lavapipe).backend).toBe('vulkan');
    const gpu = [{ name: 'vulkan', available: true, preferred: true, detail: 'NVIDIA H100' }];
    expect(selectBackend('auto', gpu)).toMatchObject({ backend: 'vulkan', reason: 'auto: vulkan (cuda: not compiled into this build)' });
  });

  it('a chosen backend that is available is used', () => {
    expect(selectBackend('cpu', cpuOnly)).toMatchObject({ backend: 'cpu', reason: 'cpu: chosen in settings' });
  });
});

describe('model size estimate', () => {
  const temp = useTempFolders();
  it('sums the weight files and part folders a manifest names, relative to the manifest', () => {
    const dir = temp();
    mkdirSync(path.join(dir, 'vae'));
    writeFileSync(path.join(dir, 'dimba.safetensors'), Buffer.alloc(1000));
    writeFileSync(path.join(dir, 'vae', 'a.safetensors'), Buffer.alloc(300));
    writeFileSync(path.join(dir, 'vae', 'config.json'), '{}');
    const manifest = path.join(dir, 'm.json');
    writeFileSync(manifest, JSON.stringify({ dimba: { weights: 'dimba.safetensors' }, vae: { folder: 'vae' }, text_encoder: { folder: 'missing' } }));
    expect(estimateModelBytes(manifest)).toBe(1302);
    expect(estimateModelBytes(path.join(dir, 'nope.json'))).toBeUndefined();
  });
});
