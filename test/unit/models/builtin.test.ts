// The built-in model in the model manager: listed first (kind 'builtin', its own id) in
// models.list and in every change event, run by its id, shown 'missing' when a file is gone;
// absent when the service has no built-in folder. And the shipped assets/builtin is complete.
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../../main/api/errors';
import { BUILTIN_MODEL_ID, modelSchema } from '../../../main/api/models';
import { builtinModel } from '../../../main/services/models/builtin';
import { createModelsService } from '../../../main/services/models/models.service';
import { useTempFolders } from '../support/temp';

const GOLDEN = path.resolve(__dirname, '../../../../shared/golden');
const SHIPPED = path.resolve(__dirname, '../../../assets/builtin');
const temp = useTempFolders();

/** A folder shaped like assets/builtin (the engine never reads it here). */
function builtinFolder(): string {
  const dir = temp();
  mkdirSync(path.join(dir, 't5'));
  writeFileSync(path.join(dir, 'builtin.manifest.json'), JSON.stringify({ id: BUILTIN_MODEL_ID, name: 'Built-in test' }));
  writeFileSync(path.join(dir, 'dimba.json'), JSON.stringify({ depth: 4, hidden_size: 128, prediction_type: 'v_prediction' }));
  writeFileSync(path.join(dir, 'dimba.safetensors'), Buffer.alloc(100));
  writeFileSync(path.join(dir, 'spiece.model'), Buffer.alloc(10));
  writeFileSync(path.join(dir, 't5', 'config.json'), '{}');
  writeFileSync(path.join(dir, 't5', 'model.safetensors'), Buffer.alloc(50));
  return dir;
}

describe('built-in model', () => {
  it('leads models.list and the change events, and a job runs it by its id', async () => {
    const folder = builtinFolder();
    const lengths: string[][] = [];
    const models = createModelsService({ folder: temp(), builtinFolder: folder, onModelsChanged: (m) => lengths.push(m.map((x) => x.kind)) });
    const [first, ...rest] = await models.list();
    expect(rest).toHaveLength(0);
    expect(modelSchema.parse(first)).toMatchObject({
      id: BUILTIN_MODEL_ID,
      name: 'Built-in test',
      kind: 'builtin',
      status: 'ready',
      source: { type: 'builtin' },
      totalBytes: 100 + 10 + 50 + 2 + JSON.stringify({ id: BUILTIN_MODEL_ID, name: 'Built-in test' }).length + JSON.stringify({ depth: 4, hidden_size: 128, prediction_type: 'v_prediction' }).length,
      config: { prediction_type: 'v_prediction' },
    });
    expect(await models.manifestFor(BUILTIN_MODEL_ID)).toBe(path.join(folder, 'builtin.manifest.json'));

    // A registered model comes after it, in the list and in the event.
    const src = temp();
    copyFileSync(path.join(GOLDEN, 'dimba-tiny.weights.safetensors'), path.join(src, 'dimba-tiny.weights.safetensors'));
    copyFileSync(path.join(GOLDEN, 'dimba-tiny.json'), path.join(src, 'dimba-tiny.json'));
    await models.register(path.join(src, 'dimba-tiny.weights.safetensors'));
    expect((await models.list()).map((m) => m.kind)).toEqual(['builtin', 'dimba']);
    expect(lengths.at(-1)).toEqual(['builtin', 'dimba']);
  });

  it('shows a built-in model with a file gone as missing, and refuses to run it', async () => {
    const folder = builtinFolder();
    rmSync(path.join(folder, 'dimba.safetensors'));
    const models = createModelsService({ folder: temp(), builtinFolder: folder });
    expect((await models.list())[0]).toMatchObject({ kind: 'builtin', status: 'missing' });
    const error = await models.manifestFor(BUILTIN_MODEL_ID).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).code).toBe('MODEL_INVALID');
  });

  it('is absent without a built-in folder or with a manifest of another id', async () => {
    expect(await createModelsService({ folder: temp() }).list()).toEqual([]);
    const folder = builtinFolder();
    writeFileSync(path.join(folder, 'builtin.manifest.json'), JSON.stringify({ id: 'something-else' }));
    expect(builtinModel(folder)).toBeNull();
  });

  it('ships complete in assets/builtin, as a pixel-space model manifest', () => {
    const shipped = builtinModel(SHIPPED);
    expect(shipped).toMatchObject({ id: BUILTIN_MODEL_ID, kind: 'builtin', status: 'ready' });
    expect(shipped!.totalBytes).toBeLessThanOrEqual(25 * 1024 * 1024);
  });
});
