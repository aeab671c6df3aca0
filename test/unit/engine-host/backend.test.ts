import { describe, expect, it } from 'vitest';
import { selectBackend } from '../../../main/engine-host/backend.js';

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

  it('a chosen backend that is available is used', () => {
    expect(selectBackend('cpu', cpuOnly)).toMatchObject({ backend: 'cpu', reason: 'cpu: chosen in settings' });
  });
});
