// Whole-model downloads into the registry from a local server: a model appears only complete
// and verified; corrupted, cancelled and out-of-space downloads leave no model behind.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { CatalogueEntry, Download } from '../../../main/api/models';
import { createModelsService } from '../../../main/services/models/models.service';
import { useTempFolders } from '../support/temp';

const GOLDEN = path.resolve(__dirname, '../../../../shared/golden');
const WEIGHTS = readFileSync(path.join(GOLDEN, 'vae-tiny.weights.safetensors'));
const CONFIG = readFileSync(path.join(GOLDEN, 'vae-tiny.json'));
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

const temp = useTempFolders();
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

/** Serves /config.json and /weights; `mode` changes how the weights are served. */
async function serve(mode: { corrupt?: boolean; stall?: boolean }): Promise<string> {
  const srv = http.createServer((req, res) => {
    if (req.url === '/config.json') {
      res.writeHead(200, { 'Content-Length': CONFIG.length });
      res.end(CONFIG);
      return;
    }
    const body = mode.corrupt ? Buffer.concat([WEIGHTS.subarray(0, 5000), Buffer.alloc(1, 7), WEIGHTS.subarray(5001)]) : WEIGHTS;
    res.writeHead(200, { 'Content-Length': body.length });
    if (mode.stall) res.write(body.subarray(0, 20_000));
    else res.end(body);
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise((resolve) => (srv.closeAllConnections(), srv.close(() => resolve()))));
  return `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
}

function entry(base: string): CatalogueEntry {
  return {
    id: 'tiny-vae',
    name: 'Tiny VAE',
    kind: 'vae',
    description: 'test',
    files: [
      { url: `${base}/config.json`, path: 'config.json', bytes: CONFIG.length, sha256: sha(CONFIG) },
      { url: `${base}/weights`, path: 'diffusion_pytorch_model.safetensors', bytes: WEIGHTS.length, sha256: sha(WEIGHTS) },
    ],
  };
}

const plenty = async () => ({ freeBytes: 1e12 });

describe('download manager', () => {
  it('downloads an entry, validates it, and only then shows it as a model', async () => {
    const folder = temp();
    const events: Download[] = [];
    const models = createModelsService({ folder, catalogue: [entry(await serve({}))], freeSpace: plenty, onDownload: (d) => events.push(d), progressIntervalMs: 0 });
    expect(models.download('tiny-vae').state).toBe('running');
    const done = await models.downloadManager.settled('tiny-vae');
    expect(done).toMatchObject({ state: 'done', receivedBytes: CONFIG.length + WEIGHTS.length, error: null });
    const [model] = await models.list();
    expect(model).toMatchObject({ id: 'tiny-vae', kind: 'vae', status: 'ready', validation: { architecture: 'vae', ok: true } });
    expect(model!.files.map((f) => f.sha256)).toEqual([sha(CONFIG), sha(WEIGHTS)]);
    expect(readdirSync(path.join(folder, '.staging'))).toEqual([]);
    expect(events.some((e) => e.state === 'running' && e.receivedBytes > 0 && e.totalBytes === CONFIG.length + WEIGHTS.length)).toBe(true);
    expect(events.map((e) => e.state)).toContain('verifying');
  });

  it('a corrupted file fails with E_HASH_MISMATCH and registers nothing', async () => {
    const folder = temp();
    const models = createModelsService({ folder, catalogue: [entry(await serve({ corrupt: true }))], freeSpace: plenty });
    models.download('tiny-vae');
    const done = await models.downloadManager.settled('tiny-vae');
    expect(done).toMatchObject({ state: 'failed', error: { code: 'E_HASH_MISMATCH' } });
    expect(await models.list()).toEqual([]);
    expect(existsSync(path.join(folder, 'tiny-vae'))).toBe(false);
    expect(existsSync(path.join(folder, '.staging', 'tiny-vae', 'diffusion_pytorch_model.safetensors.part'))).toBe(false);
  });

  it('refuses to start without room for the whole entry', async () => {
    const models = createModelsService({ folder: temp(), catalogue: [entry(await serve({}))], freeSpace: async () => ({ freeBytes: 100 }) });
    models.download('tiny-vae');
    expect(await models.downloadManager.settled('tiny-vae')).toMatchObject({ state: 'failed', error: { code: 'E_NO_SPACE' } });
    expect(await models.list()).toEqual([]);
  });

  it('cancels: state cancelled, no model, the partial kept for a resume', async () => {
    const folder = temp();
    let cancelled = false;
    const models = createModelsService({
      folder,
      catalogue: [entry(await serve({ stall: true }))],
      freeSpace: plenty,
      progressIntervalMs: 0,
      onDownload: (d) => {
        if (!cancelled && d.file === 'diffusion_pytorch_model.safetensors' && d.receivedBytes > CONFIG.length) {
          cancelled = models.cancelDownload('tiny-vae');
        }
      },
    });
    models.download('tiny-vae');
    expect(await models.downloadManager.settled('tiny-vae')).toMatchObject({ state: 'cancelled', error: { code: 'E_CANCELLED' } });
    expect(cancelled).toBe(true);
    expect(await models.list()).toEqual([]);
    expect(existsSync(path.join(folder, '.staging', 'tiny-vae', 'diffusion_pytorch_model.safetensors.part'))).toBe(true);
  });

  it('answers an unknown catalogue id with NOT_FOUND', async () => {
    const models = createModelsService({ folder: temp(), catalogue: [] });
    expect(() => models.download('nope')).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
  });
});

describe('user catalogue (<models>/catalogue.json)', () => {
  it('adds valid entries after the defaults and ignores a file with a path escaping the model folder', async () => {
    const { writeFileSync } = await import('node:fs');
    const { userCatalogue } = await import('../../../main/services/models/models.service');
    const folder = temp();
    const good = entry('http://127.0.0.1:1');
    writeFileSync(path.join(folder, 'catalogue.json'), JSON.stringify([good]));
    const models = createModelsService({ folder });
    expect(models.catalogue().map((e) => e.id)).toEqual(['dimba-l-512', 't5-v1_1-xxl', 'sdxl-vae', 'tiny-vae']);
    const logs: string[] = [];
    writeFileSync(path.join(folder, 'catalogue.json'), JSON.stringify([{ ...good, files: [{ ...good.files[0], path: '../../escape' }] }]));
    expect(userCatalogue(folder, (m) => logs.push(m))).toEqual([]);
    writeFileSync(path.join(folder, 'catalogue.json'), '[{"id": "../x"');
    expect(userCatalogue(folder, (m) => logs.push(m))).toEqual([]);
    expect(logs).toHaveLength(2);
  });
});
