// End to end in browser mode: the built studio served by `dist/main/server/main.js`, driven in
// Debian's Chromium.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, startStudio, type RunningStudio } from './support/studio';

let studio: RunningStudio;
let browser: Browser;

beforeAll(async () => {
  studio = await startStudio();
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await studio?.stop();
});

/** A page of the studio that fails the test on any console error or CSP violation. */
async function openStudio(): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(error.message));
  await page.goto(studio.url);
  await page.getByTestId('app-mode').waitFor();
  return { page, problems };
}

const VIEWS = ['generate', 'queue', 'gallery', 'tune', 'models', 'settings'] as const;

describe('browser mode in Chromium', () => {
  it('opens the studio and navigates every view', async () => {
    const { page, problems } = await openStudio();
    expect(await page.getByTestId('app-mode').textContent()).toContain('browser mode');
    for (const view of VIEWS) {
      await page.getByTestId(`nav-${view}`).click();
      await page.locator(`[data-testid="view"][data-view="${view}"]`).waitFor();
      if (view === 'settings') await page.getByTestId('settings-form').waitFor();
      else if (view === 'generate') await page.getByTestId('generate-form').waitFor();
      else if (view === 'models') await page.getByTestId('models-add').waitFor();
      else if (view === 'gallery') await page.getByTestId('gallery-empty').waitFor();
      else if (view === 'queue') await page.getByTestId('queue-empty').waitFor();
      else if (view === 'tune') await page.getByTestId('tune-empty').waitFor();
      expect(new URL(page.url()).hash).toBe(`#/${view}`);
    }
    expect(problems).toEqual([]);
    await page.close();
  });

  it('keeps a changed setting across a reload, and on disk', async () => {
    const { page, problems } = await openStudio();
    await page.getByTestId('nav-settings').click();
    await page.getByTestId('setting-theme').selectOption('dark');
    await page.getByTestId('setting-steps').fill('37');
    await page.getByTestId('settings-save').click();
    await page.getByTestId('settings-saved').waitFor();
    await page.reload();
    await page.getByTestId('settings-form').waitFor();
    expect(await page.getByTestId('setting-theme').inputValue()).toBe('dark');
    expect(await page.getByTestId('setting-steps').inputValue()).toBe('37');
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe('dark');
    const stored: unknown = JSON.parse(readFileSync(path.join(studio.userDataFolder, 'settings.json'), 'utf8'));
    expect(stored).toMatchObject({ theme: 'dark', defaultSteps: 37 });
    expect(problems).toEqual([]);
    await page.close();
  });

  it('refuses requests without the token', async () => {
    const page = await browser.newPage();
    const response = await page.goto(`${studio.base}/`);
    expect(response?.status()).toBe(401);
    // And a page on another origin cannot open the API socket, even knowing the token.
    const other = await browser.newPage();
    await other.goto('about:blank');
    const refused = await other.evaluate(
      (wsUrl) =>
        new Promise<string>((resolve) => {
          const ws = new WebSocket(wsUrl);
          ws.onopen = () => resolve('opened');
          ws.onerror = () => resolve('refused');
        }),
      `${studio.base.replace('http', 'ws')}/api/ws?token=${studio.token}`,
    );
    expect(refused).toBe('refused');
    await page.close();
    await other.close();
  });

  it('answers a malformed API call with a typed error', async () => {
    const { page } = await openStudio();
    const replies = await page.evaluate(async (token) => {
      const ws = new WebSocket(`ws://${location.host}/api/ws?token=${token}`);
      await new Promise((resolve) => (ws.onopen = resolve));
      const send = (text: string) =>
        new Promise<unknown>((resolve) => {
          ws.onmessage = (event) => resolve(JSON.parse(String(event.data)));
          ws.send(text);
        });
      const results = [
        await send('{"id":1,"method":"settings.update","params":{"defaultSteps":"lots"}}'),
        await send('{"id":2,"method":"settings.explode"}'),
        await send('not json'),
        await send('{"id":3,"method":"settings.get"}'),
      ];
      ws.close();
      return results;
    }, studio.token);
    expect(replies[0]).toMatchObject({ id: 1, ok: false, error: { code: 'INVALID_PARAMS' } });
    expect(replies[1]).toMatchObject({ id: 2, ok: false, error: { code: 'UNKNOWN_METHOD' } });
    expect(replies[2]).toMatchObject({ id: null, ok: false, error: { code: 'BAD_REQUEST' } });
    expect(replies[3]).toMatchObject({ id: 3, ok: true });
    await page.close();
  });
});
