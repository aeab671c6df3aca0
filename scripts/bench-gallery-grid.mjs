// Frame rate of the Gallery grid while scrolling, in Chromium against browser mode, with a
// library of COUNT synthetic images (real small files and their thumbnails, as in a library
// browsed before; scripts/gallery-seed.mjs). Frames are
// timed with requestAnimationFrame while the page scrolls itself (scrollTop set every frame);
// long tasks come from a PerformanceObserver. Prints frames per second (median, and p5 = the
// 95th percentile frame time) for:
//   1. scrolling from the top at a steady speed while pages load as they are reached;
//   2. loading the whole list (every page, the way scrolling to the end does), timed;
//   3. scrolling steadily in the middle of the fully loaded list;
//   4. a fling through the whole list, top to bottom (every frame lands on new rows).
// --cold seeds no thumbnails: the library makes each on first view (sharp, in the studio's
// process), which on a one-core machine competes with the browser for the CPU.
//   npm run build && node scripts/bench-gallery-grid.mjs [COUNT=100000] [--width 1280 --height 800] [--cold]
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { seedLibrary } from './gallery-seed.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const COUNT = Number(args.find((a) => /^\d+$/.test(a)) ?? 100_000);
const COLD = args.includes('--cold');
const WIDTH = option('width', 1280);
const HEIGHT = option('height', 800);
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const userData = fs.mkdtempSync(path.join(os.tmpdir(), 'dimba-bench-grid-'));
let server;
let browser;

function startServer() {
  const entry = path.join(root, 'dist', 'main', 'server', 'main.js');
  if (!fs.existsSync(entry)) throw new Error(`${entry} is missing: run npm run build`);
  server = spawn(process.execPath, [entry], {
    env: { ...process.env, DIMBA_USER_DATA: userData, DIMBA_PORT: '0', DIMBA_OPEN: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`browser mode did not start:\n${output}`)), 60_000);
    const onData = (chunk) => {
      output += chunk.toString();
      const m = /Open: (http:\/\/127\.0\.0\.1:\d+\/\?token=\S+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    server.stdout.on('data', onData);
    server.stderr.on('data', onData);
    server.once('exit', (code) => reject(new Error(`browser mode exited with ${code}:\n${output}`)));
  });
}

/** Scrolls the grid from `start` at `speed` px/s for `ms`, timing every frame. Runs in the page. */
function scrollRun({ speed, ms, start }) {
  return new Promise((resolve) => {
    const el = document.querySelector('[data-testid="gallery-grid"]');
    el.scrollTop = start;
    const deltas = [];
    const cells = [];
    let longTasks = 0;
    let longMs = 0;
    const observer = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        longTasks++;
        longMs += e.duration;
      }
    });
    observer.observe({ type: 'longtask', buffered: false });
    let t0 = null;
    let last = 0;
    const frame = (t) => {
      if (t0 === null) {
        t0 = t;
      } else {
        deltas.push(t - last);
        cells.push(el.querySelectorAll('[data-testid="gallery-cell"]').length);
      }
      last = t;
      el.scrollTop = start + (speed * (t - t0)) / 1000;
      if (t - t0 < ms) requestAnimationFrame(frame);
      else {
        observer.disconnect();
        resolve({ deltas, longTasks, longMs, maxCells: Math.max(...cells), scrollTop: el.scrollTop, scrollHeight: el.scrollHeight });
      }
    };
    requestAnimationFrame(frame);
  });
}

function summary(name, run) {
  const sorted = [...run.deltas].sort((a, b) => a - b);
  const at = (p) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
  const fps = (ms) => (1000 / ms).toFixed(1);
  const slow = run.deltas.filter((d) => d > 1000 / 30).length;
  console.log(
    `${name.padEnd(46)} fps median ${fps(at(0.5)).padStart(5)}  p5 ${fps(at(0.95)).padStart(5)}  ` +
      `(${run.deltas.length} frames, ${slow} over 33 ms, worst ${at(1).toFixed(1)} ms; long tasks ${run.longTasks} / ${run.longMs.toFixed(0)} ms; ` +
      `at most ${run.maxCells} cells in the DOM)`,
  );
}

try {
  const t0 = performance.now();
  await seedLibrary(path.join(userData, 'library'), COUNT, { thumbnails: !COLD });
  console.log(`grid bench: ${COUNT} images${COLD ? ' (no thumbnails yet)' : ''} seeded in ${((performance.now() - t0) / 1000).toFixed(1)} s; viewport ${WIDTH}x${HEIGHT}; Chromium ${CHROMIUM}`);
  const url = await startServer();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  const page = await browser.newPage({ viewport: { width: WIDTH, height: HEIGHT } });
  const problems = [];
  page.on('pageerror', (e) => problems.push(e.message));
  const t1 = performance.now();
  await page.goto(`${url}#/gallery`);
  await page.locator('[data-testid="gallery-cell"]').first().waitFor({ timeout: 60_000 });
  console.log(`gallery open to first cells: ${(performance.now() - t1).toFixed(0)} ms`);
  await page.waitForTimeout(500);

  summary('1. scroll from the top, 3000 px/s, 5 s', await page.evaluate(scrollRun, { speed: 3000, ms: 5000, start: 0 }));

  const t2 = performance.now();
  const loaded = await page.evaluate(async (want) => {
    const el = document.querySelector('[data-testid="gallery-grid"]');
    const count = () => Number(document.querySelector('[data-testid="gallery-count"]').textContent.replace(/[^\d]/g, ''));
    const end = performance.now() + 300_000;
    while (count() < want && performance.now() < end) {
      el.scrollTop = el.scrollHeight;
      await new Promise((r) => setTimeout(r, 30));
    }
    return count();
  }, COUNT);
  console.log(`2. whole list loaded: ${loaded} images in ${((performance.now() - t2) / 1000).toFixed(1)} s (pages of 200)`);

  const height = await page.evaluate(() => document.querySelector('[data-testid="gallery-grid"]').scrollHeight);
  summary('3. scroll in the middle, 3000 px/s, 5 s', await page.evaluate(scrollRun, { speed: 3000, ms: 5000, start: Math.floor(height / 2) }));
  const flingMs = 8000;
  const fling = await page.evaluate(scrollRun, { speed: (height / flingMs) * 1000, ms: flingMs, start: 0 });
  summary(`4. fling through all ${loaded}, ${Math.round((height / flingMs) * 1000)} px/s`, fling);
  if (problems.length) console.log(`page errors: ${problems.join('; ')}`);
} finally {
  await browser?.close();
  if (server && server.exitCode === null) {
    const exited = new Promise((r) => server.once('exit', r));
    server.kill('SIGTERM');
    await exited;
  }
  fs.rmSync(userData, { recursive: true, force: true });
}
