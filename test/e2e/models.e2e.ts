// End to end, Models view in browser mode: a local release layout (built from the golden tiny
// models) checked and registered, and a catalogue download from a slow local server showing
// progress until the model appears.
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, repoRoot, startStudio, type RunningStudio } from './support/studio';

const GOLDEN = path.resolve(repoRoot, '..', 'shared', 'golden');
const WEIGHTS = readFileSync(path.join(GOLDEN, 'vae-tiny.weights.safetensors'));
const CONFIG = readFileSync(path.join(GOLDEN, 'vae-tiny.json'));
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

let studio: RunningStudio;
let browser: Browser;
let server: http.Server;
let release: string;

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

  // A slow mirror: the weights trickle out over about two seconds, so progress is visible.
  server = http.createServer((req, res) => {
    const body = req.url === '/config.json' ? CONFIG : WEIGHTS;
    res.writeHead(200, { 'Content-Length': body.length });
    let at = 0;
    const tick = (): void => {
      if (at >= body.length) return void res.end();
      res.write(body.subarray(at, at + 32 * 1024));
      at += 32 * 1024;
      setTimeout(tick, 50);
    };
    tick();
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
  it('checks and registers local models, then downloads one with progress', async () => {
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

    await page.locator('[data-testid="catalogue-e2e-vae"] [data-testid="download-start"]').click();
    await page.locator('[data-testid="catalogue-e2e-vae"] [data-testid="download-progress"]').waitFor();
    expect(await page.locator('[data-testid="catalogue-e2e-vae"] [data-testid="download-state"]').textContent()).toMatch(/running .* of 1\.\d+ MB/);
    await page.locator('[data-testid="model-e2e-vae"]').waitFor({ timeout: 30_000 });
    expect(await page.locator('[data-testid="model-e2e-vae"] [data-testid="model-status"]').textContent()).toBe('ready');
    expect(await page.locator('[data-testid="catalogue-e2e-vae"] [data-testid="download-state"]').textContent()).toMatch(/done/);
    expect(problems).toEqual([]);
    await page.close();
  });
});
