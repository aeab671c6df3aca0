// Makes a checkout ready to start or test, doing only what is missing:
//   1. Debian packages from scripts/system-packages.txt (apt-get when root; otherwise stop and say which);
//   2. node modules (`npm ci`, with Electron's runtime download skipped: its host may be unreachable);
//   3. the build: main (tsc), renderer (vite), and (for `npm start`; `npm test` has its own step)
//      the native addon once native/ has its build script.
// Uses only node builtins, because it runs before the node modules exist.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { capture, npmCommand, root, run } from './lib.mjs';
import { planSystemPackages, readPackageList } from './system-packages.mjs';

const started = Date.now();
const step = (text) => console.log(`\n[bootstrap] ${text}`);

function fail(message) {
  console.error(`[bootstrap] ${message}`);
  process.exit(1);
}

function systemPackages() {
  const wanted = readPackageList(readFileSync(path.join(root, 'scripts', 'system-packages.txt'), 'utf8'));
  if (capture('dpkg-query', ['--version']) === null) {
    step(`not a Debian system: make sure these are installed: ${wanted.join(' ')}`);
    return;
  }
  const plan = planSystemPackages({
    wanted,
    installed: (name) => (capture('dpkg-query', ['-W', '-f=${Status}', name]) ?? '').includes('install ok installed'),
    isRoot: typeof process.getuid === 'function' && process.getuid() === 0,
    hasApt: capture('apt-get', ['--version']) !== null,
  });
  if (plan.action === 'none') return;
  if (plan.action === 'stop') fail(plan.message);
  const missing = plan.packages;
  step(`installing system packages: ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (run('apt-get', ['update', '-q'], { env }) !== 0) fail('apt-get update failed');
  if (run('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...missing], { env }) !== 0) {
    fail(`apt-get install failed; install these by hand: ${missing.join(' ')}`);
  }
}

function nodeModules() {
  const lock = readFileSync(path.join(root, 'package-lock.json'));
  const hash = createHash('sha256').update(lock).digest('hex');
  const stamp = path.join(root, 'node_modules', '.dimba-lock-sha256');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === hash) return;
  step('installing node modules (npm ci)');
  // Electron's postinstall downloads its runtime from GitHub, which may be unreachable: skip it
  // unless the caller decided otherwise (`npm run install:electron` fetches it later).
  const env = { ...process.env, ELECTRON_SKIP_BINARY_DOWNLOAD: process.env.ELECTRON_SKIP_BINARY_DOWNLOAD ?? '1' };
  if (run(npmCommand(), ['ci', '--no-audit', '--no-fund'], { env }) !== 0) fail('npm ci failed');
  writeFileSync(stamp, `${hash}\n`);
}

function build(purpose) {
  step('building main and renderer');
  if (run(npmCommand(), ['run', '-s', 'build']) !== 0) fail('the build failed');
  // `npm test` builds the addon as a step of its own, so a broken engine shows in the summary
  // next to every other result instead of stopping them all.
  if (purpose === 'test') return;
  if (existsSync(path.join(root, 'native', 'scripts', 'build-addon.sh'))) {
    step('building the native addon');
    if (run(npmCommand(), ['run', '-s', 'build:native']) !== 0) {
      console.warn('[bootstrap] warning: the native addon did not build; the studio starts without the engine');
    }
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.join(root, 'scripts', 'bootstrap.mjs')) {
  if (process.env.DIMBA_SKIP_BOOTSTRAP === '1') process.exit(0);
  systemPackages();
  nodeModules();
  const purpose = process.argv.includes('--for=test') ? 'test' : 'start';
  build(purpose);
  console.log(`[bootstrap] ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
