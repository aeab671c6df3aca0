// The memoryLimitGiB setting through the composition root: a model whose weights exceed the
// limit fails its job with MEMORY_BUDGET before loading; 0 (the default) leaves 80% of RAM.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { nodeEngineSpawner } from '../../../main/engine-host/channel.node.js';
import { createServices } from '../../../main/services/index.js';
import { FAKE_ENGINE } from '../engine-host/fake-engine.js';
import { useTempFolders } from '../support/temp.js';

const temp = useTempFolders();

describe('memoryLimitGiB setting', () => {
  it('refuses a model larger than the limit, and follows a changed limit without a restart', async () => {
    const models = temp();
    writeFileSync(path.join(models, 'w.safetensors'), Buffer.alloc(64 * 1024));
    const manifest = path.join(models, 'm.manifest.json');
    writeFileSync(manifest, JSON.stringify({ dimba: { weights: 'w.safetensors' } }));
    const spawnFake = nodeEngineSpawner(FAKE_ENGINE);
    const services = createServices({
      userDataFolder: temp(),
      mode: 'browser',
      version: '1.0.0',
      emit: () => undefined,
      spawnEngine: (o) => spawnFake({ env: { ...o.env, DIMBA_FAKE_STEP_MS: '1' } }),
    });
    try {
      // 32 KiB: half the weights.
      await services.settings.update({ memoryLimitGiB: 32 / 1024 / 1024 });
      const refused = services.jobs.enqueue({ prompt: 'big', negativePrompt: '', model: manifest, seed: '1', steps: 2 }, 1);
      await services.jobs.idle();
      expect(services.jobs.list().jobs.find((j) => j.id === refused.id)).toMatchObject({ status: 'failed', error: { code: 'MEMORY_BUDGET' } });

      await services.settings.update({ memoryLimitGiB: 0 });
      const allowed = services.jobs.enqueue({ prompt: 'fits', negativePrompt: '', model: manifest, seed: '1', steps: 2 }, 1);
      await services.jobs.idle();
      expect(services.jobs.list().jobs.find((j) => j.id === allowed.id)).toMatchObject({ status: 'done' });
    } finally {
      services.jobs.stop();
      services.engine.stop();
    }
  });
});
