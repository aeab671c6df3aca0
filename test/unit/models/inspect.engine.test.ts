// Validation by the engine through the addon: the golden tiny models are recognised exactly,
// a damaged file is a report with the engine's error code, never an exception or a crash.
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { addonPath, inspectCheckpoint, loadAddon } from '../../../main/engine/addon.js';
import { engineInspector } from '../../../main/services/models/inspect.engine.js';
import { createModelsService } from '../../../main/services/models/models.service.js';
import { useTempFolders } from '../support/temp';

const golden = path.resolve(__dirname, '../../../../shared/golden');
const temp = useTempFolders();
const inspector = engineInspector(inspectCheckpoint);
// npm test builds the addon first; a checkout whose addon predates inspectCheckpoint skips.
const built = existsSync(addonPath()) && typeof (loadAddon() as unknown as Record<string, unknown>).inspectCheckpoint === 'function';

describe.skipIf(!built)('engine inspector (addon inspectCheckpoint)', () => {
  it('recognises the tiny Dimba, T5 and VAE with nothing missing or unexpected', async () => {
    for (const [stem, kind] of [['dimba-tiny', 'dimba'], ['t5-tiny', 't5'], ['vae-tiny', 'vae']] as const) {
      const r = await inspector.inspect(path.join(golden, `${stem}.weights.safetensors`), { config: path.join(golden, `${stem}.json`) });
      expect(r, stem).toMatchObject({ architecture: kind, checkedBy: 'engine', ok: true, missing: [], unexpected: [], wrongShape: [] });
      expect(r.matched).toBe(r.expected);
    }
  });

  it('names the defects of a Dimba checkpoint checked against the wrong config', async () => {
    // Against Dimba-L/2 (no config given) the tiny model is still Dimba, with every shape wrong.
    const r = await inspector.inspect(path.join(golden, 'dimba-tiny.weights.safetensors'), {});
    expect(r.architecture).toBe('dimba');
    expect(r.ok).toBe(false);
    expect(r.wrongShape.length + r.missing.length).toBeGreaterThan(0);
  });

  it('reports a truncated or foreign file with the engine code', async () => {
    const dir = temp();
    const bytes = readFileSync(path.join(golden, 'vae-tiny.weights.safetensors'));
    writeFileSync(path.join(dir, 'cut.safetensors'), bytes.subarray(0, bytes.length / 2));
    writeFileSync(path.join(dir, 'notes.pt'), 'not a zip at all');
    const cut = await inspector.inspect(path.join(dir, 'cut.safetensors'), {});
    expect(cut.ok).toBe(false);
    expect(cut.problems[0]).toMatch(/^E_BAD_FILE/);
    const notes = await inspector.inspect(path.join(dir, 'notes.pt'), {});
    expect(notes.problems[0]).toMatch(/^E_(BAD_FILE|UNSUPPORTED_FORMAT)/);
  });

  it('registers a tiny VAE folder through the registry with the engine check', async () => {
    const dir = temp();
    copyFileSync(path.join(golden, 'vae-tiny.weights.safetensors'), path.join(dir, 'diffusion_pytorch_model.safetensors'));
    copyFileSync(path.join(golden, 'vae-tiny.json'), path.join(dir, 'config.json'));
    const models = createModelsService({ folder: temp(), inspector });
    const [model] = await models.register(dir, 'Tiny VAE');
    expect(model).toMatchObject({ kind: 'vae', status: 'ready', validation: { checkedBy: 'engine', ok: true } });
  });
});
