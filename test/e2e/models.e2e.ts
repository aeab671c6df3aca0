// End to end, Models view in browser mode: a local release layout (built from the golden tiny
// models) checked and registered; a catalogue download from a slow local server (127.0.0.1,
// honouring Range like a CDN) showing progress with speed and ETA, cancelled and resumed from
// where it stopped until the model appears; the engine's torch fixture registered as a Dimba
// .pt and converted to safetensors, the model then running from the converted file, and a .pt
// damaged on disk after registration failing with its typed error; the view at 1024x700 with a
// screenshot.
import { createHash } from 'node:crypto';
import { closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, repoRoot, startStudio, type RunningStudio } from './support/studio';

const GOLDEN = path.resolve(repoRoot, '..', 'shared', 'golden');
/** The engine's torch.save fixtures (native/tests/data/make_torch_fixtures.py), as the unit tests use. */
const TORCH_FIXTURES = path.join(repoRoot, 'native', 'tests', 'data', 'torch');
const SCREENSHOTS = path.join(repoRoot, 'test-results', 'screenshots');
const WEIGHTS = readFileSync(path.join(GOLDEN, 'vae-tiny.weights.safetensors'));
const CONFIG = readFileSync(path.join(GOLDEN, 'vae-tiny.json'));
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

let studio: RunningStudio;
let browser: Browser;
let server: http.Server;
let release: string;
/** The Range header of every request for the weights (undefined: from the start). */
const weightRanges: (string | undefined)[] = [];

/** Serves `body` from a `bytes=N-` Range (206) or whole (200), 16 KiB every 50 ms. */
function trickle(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer): void {
  const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  let at = m ? Number(m[1]) : 0;
  if (at >= body.length) {
    res.writeHead(416, { 'Content-Range': `bytes */${body.length}` });
    return void res.end();
  }
  if (m) res.writeHead(206, { 'Content-Length': body.length - at, 'Content-Range': `bytes ${at}-${body.length - 1}/${body.length}` });
  else res.writeHead(200, { 'Content-Length': body.length });
  const tick = (): void => {
    if (res.destroyed) return;
    if (at >= body.length) return void res.end();
    res.write(body.subarray(at, at + 16 * 1024));
    at += 16 * 1024;
    setTimeout(tick, 50);
  };
  tick();
}

beforeAll(async () => {
  release = mkdtempSync(path.join(os.tmpdir(), 'dimba-e2e-release-'));
  const ckpts = path.join(release, 'ckpts');
  mkdirSync(path.join(ckpts, 't5-v1_1-xxl'), { recursive: true });
  mkdirSync(path.join(ckpts, 'vae'), { recursive: true });
  copyFileSync(path.join(GOLDEN, 'dimba-tiny.weights.safetensors'), path.join(ckpts, 'dimba-l-512.safetensors'));
  copyFileSync(path.join(GOLDEN, 'dimba-tiny.json'), path.join(ckpts, 'dimba-l-512.json'));
  copyFileSync(path.join(GOLDEN, 't5-tiny.weights.safetensors'), path.join(ckpts, 't5-v1_1-xxl', 'model.safetensors'));
  copyFileSync(path.join(GOLDEN, 't5-tiny.json'), path.join(ckpts, 't5-v1_1-xxl', 'config.json'));
  copyFileSync(path.join(GOLDEN, 'vae-tiny.weights.safetensors'), path.join(ckpts, 'vae', 'diffusion_pytorch_model.safetensors'));
  copyFileSync(path.join(GOLDEN, 'vae-tiny.json'), path.join(ckpts, 'vae', 'config.json'));

  // A slow mirror: the weights trickle out over about four seconds, so progress can be seen and
  // the download cancelled part way.
  server = http.createServer((req, res) => {
    if (req.url !== '/config.json') weightRanges.push(req.headers.range);
    trickle(req, res, req.url === '/config.json' ? CONFIG : WEIGHTS);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  studio = await startStudio();
  mkdirSync(path.join(studio.userDataFolder, 'models'), { recursive: true });
  writeFileSync(
    path.join(studio.userDataFolder, 'models', 'catalogue.json'),
    JSON.stringify([
      {
        id: 'e2e-vae',
        name: 'E2E VAE',
        kind: 'vae',
        description: 'served by the test',
        files: [
          { url: `${base}/config.json`, path: 'config.json', bytes: CONFIG.length, sha256: sha(CONFIG) },
          { url: `${base}/weights`, path: 'diffusion_pytorch_model.safetensors', bytes: WEIGHTS.length, sha256: sha(WEIGHTS) },
        ],
      },
    ]),
  );
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await studio?.stop();
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  if (release) rmSync(release, { recursive: true, force: true });
});

describe('Models view in Chromium', () => {
  it('checks and registers local models, then downloads one with progress, speed and ETA, cancelled and resumed', async () => {
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(e.message));
    await page.goto(studio.url);
    await page.getByTestId('nav-models').click();
    // The built-in model is always listed (first).
    await page.getByTestId('model-dimba-builtin-32').waitFor();

    await page.getByTestId('models-path').fill(path.join(release, 'ckpts', 'vae'));
    await page.getByTestId('models-check').click();
    await page.getByTestId('model-validation').waitFor();
    expect(await page.getByTestId('validation-architecture').textContent()).toBe('vae');
    expect(await page.getByTestId('validation-summary').textContent()).toMatch(/^Valid/);

    await page.getByTestId('models-path').fill(release);
    await page.getByTestId('models-register').click();
    await page.getByTestId('models-table').waitFor();
    await expect.poll(() => page.getByTestId('model-kind').allTextContents()).toEqual(['builtin', 'dimba', 't5', 'vae']);
    expect(await page.getByTestId('model-status').allTextContents()).toEqual(['ready', 'ready', 'ready', 'ready']);

    const item = page.locator('[data-testid="catalogue-e2e-vae"]');
    await item.getByRole('button', { name: 'Download E2E VAE' }).click();
    await item.getByTestId('download-progress').waitFor();
    // Bytes of the total, speed and time left, as they arrive.
    await expect
      .poll(() => item.getByTestId('download-state').textContent(), { timeout: 10_000 })
      .toMatch(/running [\d.]+ [KM]?B of 1\.\d+ MB, [\d.]+ [KM]?B\/s, (\d+ s|\d+ min \d+ s) left/);
    // Part way through the weights, so there is a part to resume.
    await expect.poll(() => item.getByTestId('download-progress').evaluate((p) => (p as HTMLProgressElement).value), { timeout: 10_000 }).toBeGreaterThanOrEqual(20);
    await item.getByRole('button', { name: 'Cancel the download of E2E VAE' }).click();
    await expect.poll(() => item.getByTestId('download-state').textContent()).toMatch(/cancelled\s+at [\d.]+ KB of 1\.\d+ MB; Resume continues from there/);
    expect(await page.locator('[data-testid="model-e2e-vae"]').count()).toBe(0);

    // Resumed: the next request asks for the rest, from where the kept part ends.
    await item.getByRole('button', { name: 'Resume E2E VAE' }).click();
    await page.locator('[data-testid="model-e2e-vae"]').waitFor({ timeout: 30_000 });
    console.log(`weights requested with Range: ${JSON.stringify(weightRanges)}`);
    const resumedFrom = Number(/^bytes=(\d+)-$/.exec(weightRanges.at(-1) ?? '')?.[1]);
    expect(weightRanges[0]).toBeUndefined();
    expect(resumedFrom).toBeGreaterThan(0);
    expect(resumedFrom).toBeLessThan(WEIGHTS.length);
    expect(await page.locator('[data-testid="model-e2e-vae"] [data-testid="model-status"]').textContent()).toBe('ready');
    expect(await item.getByTestId('download-state').textContent()).toMatch(/done/);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('converts a Dimba .pt to safetensors from the view; a damaged .pt fails with its code; fits 1024x700', async () => {
    const folder = path.join(release, 'torch');
    mkdirSync(folder, { recursive: true });
    copyFileSync(path.join(TORCH_FIXTURES, 'dimba_state_dict.pt'), path.join(folder, 'dimba-l-512.pt'));
    copyFileSync(path.join(TORCH_FIXTURES, 'dimba_state_dict.pt'), path.join(folder, 'damaged.pt'));
    const original = readFileSync(path.join(folder, 'dimba-l-512.pt'));

    const page = await browser.newPage({ viewport: { width: 1024, height: 700 } });
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(e.message));
    await page.goto(studio.url);
    await page.getByTestId('nav-models').click();
    await page.getByTestId('model-dimba-builtin-32').waitFor();
    for (const [file, name] of [['dimba-l-512.pt', 'Torch fixture'], ['damaged.pt', 'Damaged fixture']] as const) {
      await page.getByTestId('models-path').fill(path.join(folder, file));
      await page.getByTestId('models-name').fill(name);
      await page.getByTestId('models-kind').selectOption('dimba');
      await page.getByTestId('models-register').click();
      await page.locator('tr[data-testid^="model-"]', { hasText: name }).waitFor();
    }
    const row = page.locator('tr[data-testid^="model-"]', { hasText: 'Torch fixture' });
    const id = (await row.getAttribute('data-testid'))!.slice('model-'.length);
    expect(await row.getByTestId('model-weights').textContent()).toBe('runs from dimba-l-512.pt');

    await row.getByRole('button', { name: 'Convert to safetensors: Torch fixture' }).click();
    const outcome = page.locator(`[data-testid="conversion-${id}"] [data-testid="conversion-state"]`);
    await expect.poll(() => outcome.textContent(), { timeout: 20_000 }).toMatch(/^\s*Converted: Torch fixture now runs from dimba-l-512\.safetensors/);
    expect(await outcome.getAttribute('role')).toBe('status');
    expect(await row.getByTestId('model-weights').textContent()).toBe('runs from dimba-l-512.safetensors');
    expect(await row.getByTestId('model-convert').count()).toBe(0);
    // The converted file is in the model's own folder; the user's .pt is untouched.
    expect(existsSync(path.join(studio.userDataFolder, 'models', id, 'dimba-l-512.safetensors'))).toBe(true);
    expect(readFileSync(path.join(folder, 'dimba-l-512.pt')).equals(original)).toBe(true);

    // Bit rot after registration (a hostile file is refused at registration by the engine): the
    // zip's end record zeroed, its size kept, so the model still lists as ready.
    const damaged = path.join(folder, 'damaged.pt');
    const fd = openSync(damaged, 'r+');
    writeSync(fd, Buffer.alloc(22), 0, 22, statSync(damaged).size - 22);
    closeSync(fd);
    const bad = page.locator('tr[data-testid^="model-"]', { hasText: 'Damaged fixture' });
    const badId = (await bad.getAttribute('data-testid'))!.slice('model-'.length);
    await bad.getByRole('button', { name: 'Convert to safetensors: Damaged fixture' }).click();
    const alert = page.locator(`[data-testid="conversion-${badId}"]`).getByRole('alert');
    await alert.waitFor({ timeout: 20_000 });
    expect(await alert.getByTestId('conversion-error-code').textContent()).toBe('E_BAD_FILE');
    expect(await alert.textContent()).toContain('Damaged fixture is unchanged');
    expect(await bad.getByTestId('model-weights').textContent()).toBe('runs from damaged.pt');
    expect(existsSync(path.join(studio.userDataFolder, 'models', badId, 'damaged.safetensors'))).toBe(false);

    mkdirSync(SCREENSHOTS, { recursive: true });
    // Both outcomes in view: the failed one (listed first, by name) at the top.
    await bad.evaluate((el) => el.scrollIntoView({ block: 'start' }));
    await page.screenshot({ path: path.join(SCREENSHOTS, 'models-conversion.png') });
    // At 1024x700: nothing wider than the window, every action reachable without scrolling the
    // table sideways, and every control named.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(1024);
    const table = await page.getByTestId('models-table').evaluate((t) => ({ table: t.scrollWidth, wrap: t.parentElement!.clientWidth }));
    expect(table.table).toBeLessThanOrEqual(table.wrap);
    const unnamed = await page.evaluate(() =>
      [...document.querySelectorAll<HTMLElement>('button, input, select, textarea, progress')]
        .filter((el) => el.offsetParent !== null)
        .filter((el) => {
          const labelled = el.getAttribute('aria-label') || el.getAttribute('aria-labelledby') || el.title;
          const text = el instanceof HTMLButtonElement ? el.textContent?.trim() : '';
          const label = (el as HTMLInputElement).labels?.length;
          return !labelled && !text && !label;
        })
        .map((el) => el.outerHTML.slice(0, 120)),
    );
    expect(unnamed).toEqual([]);
    expect(problems).toEqual([]);
    await page.close();
  });
});
