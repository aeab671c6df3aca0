// End to end, the studio's views in browser mode (Chromium): the queue (pause, reorder by
// buttons and by drag, cancel, retry, failures shown), the theme (applied at once, kept across a
// reload, System following the OS), models (add a checkpoint, its validation, a refused path,
// choose the default, which Generate then preselects with its sizes), keyboard shortcuts, and a
// screenshot of each view at 1024x700 with no horizontal overflow. None of it needs the engine:
// queued jobs wait while the queue is paused, and fail with the engine's reason afterwards.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, repoRoot, startStudio, type RunningStudio } from './support/studio';

const GOLDEN = path.resolve(repoRoot, '..', 'shared', 'golden');
const SCREENSHOTS = path.join(repoRoot, 'test-results', 'screenshots');

let studio: RunningStudio;
let browser: Browser;
let checkpoints: string;

beforeAll(async () => {
  checkpoints = mkdtempSync(path.join(os.tmpdir(), 'dimba-e2e-ckpt-'));
  copyFileSync(path.join(GOLDEN, 'dimba-tiny.weights.safetensors'), path.join(checkpoints, 'tiny-dimba.safetensors'));
  copyFileSync(path.join(GOLDEN, 'dimba-tiny.json'), path.join(checkpoints, 'tiny-dimba.json'));
  mkdirSync(path.join(checkpoints, 'second'));
  copyFileSync(path.join(GOLDEN, 'dimba-tiny.weights.safetensors'), path.join(checkpoints, 'second', 'other.safetensors'));
  copyFileSync(path.join(GOLDEN, 'dimba-tiny.json'), path.join(checkpoints, 'second', 'other.json'));
  // A T5 (with its tokenizer) and a VAE, so the Dimba checkpoints can generate.
  mkdirSync(path.join(checkpoints, 'parts', 't5'), { recursive: true });
  mkdirSync(path.join(checkpoints, 'parts', 'vae'), { recursive: true });
  copyFileSync(path.join(GOLDEN, 't5-tiny.weights.safetensors'), path.join(checkpoints, 'parts', 't5', 'model.safetensors'));
  copyFileSync(path.join(GOLDEN, 't5-tiny.json'), path.join(checkpoints, 'parts', 't5', 'config.json'));
  copyFileSync(path.join(GOLDEN, 'tiny-spiece.model'), path.join(checkpoints, 'parts', 't5', 'spiece.model'));
  copyFileSync(path.join(GOLDEN, 'vae-tiny.weights.safetensors'), path.join(checkpoints, 'parts', 'vae', 'diffusion_pytorch_model.safetensors'));
  copyFileSync(path.join(GOLDEN, 'vae-tiny.json'), path.join(checkpoints, 'parts', 'vae', 'config.json'));
  mkdirSync(SCREENSHOTS, { recursive: true });
  studio = await startStudio();
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await studio?.stop();
  if (checkpoints) rmSync(checkpoints, { recursive: true, force: true });
});

async function openStudio(viewport = { width: 1280, height: 800 }): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage({ viewport });
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(error.message));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(m.text());
  });
  await page.goto(studio.url);
  await page.getByTestId('app-mode').waitFor();
  return { page, problems };
}

const queuedPrompts = (page: Page): Promise<string[]> => page.locator('[data-testid="job-queued"] [data-testid="job-prompt"]').allTextContents();
const row = (page: Page, prompt: string) => page.locator('[data-job-id]', { has: page.getByText(prompt, { exact: true }) });

describe('studio views in Chromium', () => {
  it('queue: pause, reorder by buttons and drag, cancel, retry; failures show their reason', async () => {
    const { page, problems } = await openStudio();
    await page.getByTestId('nav-queue').click();
    await page.getByTestId('queue-empty').waitFor();
    await page.getByTestId('queue-pause').click();
    await page.getByTestId('queue-resume').waitFor();

    await page.getByTestId('nav-generate').click();
    await page.getByTestId('gen-model-select').selectOption('@manifest');
    await page.getByTestId('gen-model').fill('/nowhere/missing.manifest.json');
    for (const prompt of ['first', 'second', 'third']) {
      await page.getByTestId('gen-prompt').fill(prompt);
      await page.getByTestId('gen-submit').click();
      await expect.poll(() => page.getByTestId('queue-count').textContent()).toBe(`${['first', 'second', 'third'].indexOf(prompt) + 1} queued`);
    }
    expect(await page.getByTestId('gen-idle').textContent()).toBe('The queue is paused.');

    await page.keyboard.press('Alt+2');
    await page.locator('[data-testid="view"][data-view="queue"]').waitFor();
    expect(await queuedPrompts(page)).toEqual(['first', 'second', 'third']);
    await row(page, 'first').getByTestId('job-down').click();
    await expect.poll(() => queuedPrompts(page)).toEqual(['second', 'first', 'third']);
    await row(page, 'third').getByTestId('job-top').click();
    await expect.poll(() => queuedPrompts(page)).toEqual(['third', 'second', 'first']);
    await row(page, 'first').dragTo(row(page, 'third'));
    await expect.poll(() => queuedPrompts(page)).toEqual(['first', 'third', 'second']);

    await row(page, 'third').getByTestId('job-cancel').click();
    await expect.poll(() => queuedPrompts(page)).toEqual(['first', 'second']);
    expect(await row(page, 'third').getByTestId('job-status').textContent()).toBe('cancelled');
    await row(page, 'third').getByTestId('job-retry').click();
    await expect.poll(() => queuedPrompts(page)).toEqual(['first', 'second', 'third']);

    // Resumed, each job fails (there is no such manifest) and says why; retry is offered.
    await page.getByTestId('queue-resume').click();
    await expect.poll(() => page.getByTestId('job-failed').count(), { timeout: 30_000 }).toBe(3);
    expect(await row(page, 'first').getByTestId('job-error').textContent()).toMatch(/^[A-Z_]+: .+/);
    await page.getByTestId('queue-filter').selectOption('active');
    await page.getByTestId('queue-empty').waitFor();
    expect(await page.getByTestId('queue-empty').textContent()).toBe('No jobs match this filter.');
    await page.getByTestId('queue-filter').selectOption('all');
    expect(problems).toEqual([]);
    await page.close();
  });

  it('queue: 1,000 jobs render as a window, scroll to the end, and the last one moves to the top', async () => {
    const { page, problems } = await openStudio();
    await page.getByTestId('nav-queue').click();
    await page.locator('[data-testid="view"][data-view="queue"]').waitFor();
    if ((await page.getByTestId('queue-resume').count()) === 0) await page.getByTestId('queue-pause').click();
    await page.evaluate(async (token) => {
      const ws = new WebSocket(`ws://${location.host}/api/ws?token=${token}`);
      await new Promise((resolve) => (ws.onopen = resolve));
      let answered = 0;
      const all = new Promise<void>((resolve) => {
        ws.onmessage = (event) => {
          if ((JSON.parse(String(event.data)) as { id?: number }).id !== undefined && ++answered === 1000) resolve();
        };
      });
      for (let i = 0; i < 1000; i++) {
        ws.send(JSON.stringify({ id: i, method: 'jobs.enqueue', params: { recipe: { prompt: `bulk ${i}`, model: '/nowhere/bulk.manifest.json' }, count: 1 } }));
      }
      await all;
      ws.close();
    }, studio.token);
    await expect.poll(() => page.getByTestId('queue-summary').textContent(), { timeout: 30_000 }).toMatch(/^1000 queued/);
    await page.getByTestId('queue-filter').selectOption('active');
    const rows = page.locator('[data-job-id]');
    expect(await rows.count()).toBeLessThan(60);

    // Scroll to the end a screen per frame, timing the frames.
    const frames = await page.getByTestId('job-list').evaluate(async (el) => {
      const times: number[] = [];
      let last = performance.now();
      while (el.scrollTop + el.clientHeight < el.scrollHeight - 1) {
        el.scrollTop += el.clientHeight;
        await new Promise(requestAnimationFrame);
        const now = performance.now();
        times.push(now - last);
        last = now;
      }
      times.sort((a, b) => a - b);
      return { count: times.length, median: times[Math.floor(times.length / 2)]!, p95: times[Math.floor(times.length * 0.95)]! };
    });
    console.log(`queue of 1,000 scrolled a screen per frame: ${frames.count} frames, median ${frames.median.toFixed(1)} ms, p95 ${frames.p95.toFixed(1)} ms`);
    expect(await rows.count()).toBeLessThan(60);
    const last = row(page, 'bulk 999');
    await last.waitFor();
    await last.getByTestId('job-top').click();
    await page.getByTestId('job-list').evaluate((el) => (el.scrollTop = 0));
    await expect.poll(async () => (await queuedPrompts(page))[0]).toBe('bulk 999');
    await page.getByTestId('queue-cancel-all').click();
    await page.getByTestId('queue-empty').waitFor({ timeout: 60_000 });
    await page.getByTestId('queue-resume').click();
    expect(problems).toEqual([]);
    await page.close();
  });

  it('theme: applied at once, kept across a reload; System follows the OS live', async () => {
    const { page, problems } = await openStudio();
    const scheme = (): Promise<[boolean, boolean, string]> =>
      page.evaluate(() => [
        document.documentElement.classList.contains('theme-light'),
        document.documentElement.classList.contains('theme-dark'),
        getComputedStyle(document.documentElement).colorScheme,
      ]);
    await page.getByTestId('nav-settings').click();
    await page.getByTestId('setting-theme').selectOption('light');
    await expect.poll(scheme).toEqual([true, false, 'light']);
    const lightBg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    await page.reload();
    await page.getByTestId('settings-form').waitFor();
    expect(await page.getByTestId('setting-theme').inputValue()).toBe('light');
    await expect.poll(scheme).toEqual([true, false, 'light']);

    await page.emulateMedia({ colorScheme: 'dark' });
    await page.getByTestId('setting-theme').selectOption('system');
    await expect.poll(scheme).toEqual([false, true, 'dark']);
    expect(await page.evaluate(() => getComputedStyle(document.body).backgroundColor)).not.toBe(lightBg);
    await page.emulateMedia({ colorScheme: 'light' });
    await expect.poll(scheme).toEqual([true, false, 'light']);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('models: a refused path, a checkpoint checked and added, what it needs to generate, chosen as the default, preselected by Generate', async () => {
    const { page, problems } = await openStudio();
    await page.getByTestId('nav-models').click();
    // A fresh install lists the built-in model, the default; it cannot be removed.
    const builtin = page.getByTestId('model-dimba-builtin-32');
    await builtin.getByTestId('model-default').waitFor();
    expect(await builtin.getByTestId('model-kind').textContent()).toBe('builtin');
    expect(await builtin.getByTestId('model-remove').count()).toBe(0);

    await page.getByTestId('models-path').fill(path.join(checkpoints, 'no-such-file.safetensors'));
    await page.getByTestId('models-register').click();
    await page.getByTestId('models-error').waitFor();
    expect(await page.getByTestId('models-error').textContent()).toMatch(/^[A-Z_]+: .+/);

    const file = path.join(checkpoints, 'tiny-dimba.safetensors');
    await page.getByTestId('models-path').fill(file);
    await page.getByTestId('models-check').click();
    await page.getByTestId('model-validation').waitFor();
    expect(await page.getByTestId('validation-architecture').textContent()).toBe('dimba');
    expect(await page.getByTestId('validation-summary').textContent()).toMatch(/^Valid/);
    expect(await page.getByTestId('models-error').count()).toBe(0);

    await page.getByTestId('models-name').fill('Tiny Dimba');
    await page.getByTestId('models-register').click();
    await page.getByTestId('models-table').waitFor();
    const added = page.locator('tr', { hasText: 'Tiny Dimba' });
    expect(await added.getByTestId('model-kind').textContent()).toBe('dimba');
    expect(await added.getByTestId('model-status').textContent()).toBe('ready');
    // Without a T5 and a VAE it cannot generate: it says what it needs, and cannot be the default.
    expect(await added.getByTestId('model-pipeline-problem').textContent()).toMatch(/needs a T5 text encoder.*a VAE/);
    expect(await added.getByTestId('model-make-default').isDisabled()).toBe(true);
    for (const part of ['t5', 'vae']) {
      await page.getByTestId('models-path').fill(path.join(checkpoints, 'parts', part));
      await page.getByTestId('models-name').fill('');
      await page.getByTestId('models-register').click();
      await page.locator('tr', { has: page.getByTestId('model-kind').getByText(part, { exact: true }) }).waitFor();
    }
    await added.getByTestId('model-pipeline').waitFor();
    // Adding models leaves the default alone; choosing one moves it.
    await builtin.getByTestId('model-default').waitFor();
    await page.getByTestId('models-path').fill(path.join(checkpoints, 'second', 'other.safetensors'));
    await page.getByTestId('models-name').fill('Second Dimba');
    await page.getByTestId('models-register').click();
    const second = page.locator('tr', { hasText: 'Second Dimba' });
    await second.getByTestId('model-make-default').click();
    await second.getByTestId('model-default').waitFor();
    expect(await builtin.getByTestId('model-make-default').count()).toBe(1);
    expect(await added.getByTestId('model-make-default').count()).toBe(1);

    await page.getByTestId('nav-generate').click();
    const select = page.getByTestId('gen-model-select');
    await expect.poll(() => select.locator('option:checked').textContent()).toMatch(/Second Dimba/);
    // Its config (patch 2, latent 8, VAE x8): sides in steps of 16, presets around 64x64.
    expect(await page.getByTestId('gen-width').getAttribute('step')).toBe('16');
    expect(await page.getByTestId('gen-size-preset').locator('option').allTextContents()).toContain('1:1 · 64×64');
    expect(problems).toEqual([]);
    await page.close();
  });

  it('keyboard: ? lists the shortcuts, Escape closes, Alt+digit switches views', async () => {
    const { page } = await openStudio();
    await page.getByTestId('nav-generate').click();
    await page.locator('body').press('?');
    await page.getByTestId('shortcuts-dialog').waitFor();
    expect(await page.getByTestId('shortcuts-dialog').textContent()).toContain('Ctrl/⌘ + Enter');
    await page.keyboard.press('Escape');
    await page.getByTestId('shortcuts-dialog').waitFor({ state: 'detached' });
    // In a text field, ? is text.
    await page.getByTestId('gen-prompt').fill('');
    await page.getByTestId('gen-prompt').press('?');
    expect(await page.getByTestId('shortcuts-dialog').count()).toBe(0);
    expect(await page.getByTestId('gen-prompt').inputValue()).toBe('?');
    await page.keyboard.press('Alt+6');
    await page.locator('[data-testid="view"][data-view="settings"]').waitFor();
    await page.close();
  });

  it('every view fits 1024x700 and has accessible names on its controls; screenshots for review', async () => {
    const { page, problems } = await openStudio({ width: 1024, height: 700 });
    for (const view of ['generate', 'queue', 'models', 'settings'] as const) {
      await page.getByTestId(`nav-${view}`).click();
      await page.locator(`[data-testid="view"][data-view="${view}"]`).waitFor();
      await page.waitForLoadState('networkidle');
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(1024);
      const unnamed = await page.evaluate(() =>
        [...document.querySelectorAll<HTMLElement>('button, input, select, textarea')]
          .filter((el) => el.offsetParent !== null)
          .filter((el) => {
            const labelled = el.getAttribute('aria-label') || el.getAttribute('aria-labelledby') || el.title;
            const text = el instanceof HTMLButtonElement ? el.textContent?.trim() : '';
            const label = (el as HTMLInputElement).labels?.length;
            return !labelled && !text && !label;
          })
          .map((el) => el.outerHTML.slice(0, 120)),
      );
      expect(unnamed, `controls without a name in ${view}`).toEqual([]);
      const file = path.join(SCREENSHOTS, `${view}.png`);
      await page.screenshot({ path: file });
      console.log(`screenshot: ${file}`);
    }
    expect(problems).toEqual([]);
    await page.close();
  });
});
