// Converting a registered Dimba model's .pt through the models service: the safetensors lands in
// the model's registry folder, the model points at it (files, pipeline location, validation),
// the user's .pt is untouched, progress arrives as events; a hostile file fails with its code and
// leaves the model as it was; models without a .pt are refused.
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../../main/api/errors';
import type { Conversion, Model } from '../../../main/api/models';
import { createModelsService } from '../../../main/services/models/models.service';
import { modelLocation } from '../../../main/services/models/pipeline';
import { useTempFolders } from '../support/temp';

const FIXTURES = path.resolve('native/tests/data/torch');
const GOLDEN = path.resolve(__dirname, '../../../../shared/golden');
const temp = useTempFolders();

async function apiError(p: Promise<unknown>): Promise<ApiError> {
  const e = await p.then(
    () => undefined,
    (error: unknown) => error,
  );
  if (e instanceof ApiError) return e;
  throw new Error(`expected an ApiError, got ${String(e)}`);
}

describe('model conversions', () => {
  it('converts a registered .pt into the model folder and points the model at it', async () => {
    const src = path.join(temp(), 'dimba-l-512.pt');
    copyFileSync(path.join(FIXTURES, 'dimba_state_dict.pt'), src);
    const before = readFileSync(src);
    const folder = temp();
    const events: Conversion[] = [];
    const models = createModelsService({ folder, onConversion: (c) => events.push(c), progressIntervalMs: 0 });
    const [model] = await models.register(src, 'Mine', 'dimba');
    expect(modelLocation(model!, folder)).toBe(src);

    expect(await models.convert(model!.id)).toMatchObject({ modelId: model!.id, state: 'running' });
    const settled = await models.conversions.settled(model!.id);
    expect(settled).toMatchObject({ state: 'done', error: null });
    expect(settled!.doneBytes).toBe(settled!.totalBytes);
    expect(events.at(-1)).toEqual(settled);

    const after = (await models.list()).find((m) => m.id === model!.id)!;
    const converted = path.join(folder, model!.id, 'dimba-l-512.safetensors');
    expect(existsSync(converted)).toBe(true);
    expect(after.files.map((f) => f.path)).toContain('dimba-l-512.safetensors');
    expect(after.files.map((f) => f.path)).not.toContain(src);
    expect(after.validation).toMatchObject({ checkedBy: 'headers', tensorCount: 13, unchecked: [] });
    expect(modelLocation(after, folder)).toBe(converted);
    // The user's file is theirs: untouched.
    expect(readFileSync(src).equals(before)).toBe(true);
    // Converted already: nothing left to convert.
    expect((await apiError(models.convert(model!.id))).code).toBe('CONFLICT');
  });

  it('converts a downloaded model\'s .pt inside its folder and drops the .pt from its files', async () => {
    const folder = temp();
    const models = createModelsService({ folder });
    const dir = path.join(folder, 'dimba-l-512');
    mkdirSync(dir);
    copyFileSync(path.join(FIXTURES, 'dimba_state_dict.pt'), path.join(dir, 'dimba-l-512.pt'));
    const bytes = readFileSync(path.join(dir, 'dimba-l-512.pt')).length;
    const downloaded: Model = {
      id: 'dimba-l-512',
      name: 'Dimba-L 512',
      kind: 'dimba',
      status: 'ready',
      source: { type: 'download', catalogueId: 'dimba-l-512', urls: ['https://example.org/dimba-l-512.pt'] },
      files: [{ path: 'dimba-l-512.pt', bytes, sha256: null }],
      totalBytes: bytes,
      config: null,
      validation: null,
      addedAt: new Date().toISOString(),
    };
    await models.registry.writeManifest(dir, downloaded);
    await models.convert('dimba-l-512');
    expect(await models.conversions.settled('dimba-l-512')).toMatchObject({ state: 'done' });
    const after = (await models.list()).find((m) => m.id === 'dimba-l-512')!;
    expect(after.files.map((f) => f.path)).toEqual(['dimba-l-512.safetensors']);
    expect(modelLocation(after, folder)).toBe(path.join(dir, 'dimba-l-512.safetensors'));
  });

  it('a hostile .pt fails with its code and leaves the model as it was', async () => {
    const src = path.join(temp(), 'evil.pt');
    copyFileSync(path.join(FIXTURES, 'hostile_posix_system.pt'), src);
    const folder = temp();
    const models = createModelsService({ folder });
    const [model] = await models.register(src, 'Evil', 'dimba');
    await models.convert(model!.id);
    const settled = await models.conversions.settled(model!.id);
    expect(settled).toMatchObject({ state: 'failed', error: { code: 'E_UNSUPPORTED_FORMAT', message: expect.stringMatching(/posix\.system/) } });
    expect(readdirSync(path.join(folder, model!.id))).toEqual(['model.json']);
    expect((await models.list()).find((m) => m.id === model!.id)!.files.map((f) => f.path)).toEqual([src]);
  });

  it('refuses a model without a PyTorch checkpoint, and an unknown id', async () => {
    const models = createModelsService({ folder: temp() });
    const src = path.join(temp(), 'vae.safetensors');
    copyFileSync(path.join(GOLDEN, 'vae-tiny.weights.safetensors'), src);
    const [vae] = await models.register(src);
    expect((await apiError(models.convert(vae!.id))).code).toBe('CONFLICT');
    expect((await apiError(models.convert('no-such-model'))).code).toBe('NOT_FOUND');
    expect(models.cancelConversion('no-such-model')).toBe(false);
  });
});
