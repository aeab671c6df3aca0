// `npm test`: every check, one after the other, then one summary. A failing step does not stop
// the others, so one run shows everything that is wrong. (`pretest` has already bootstrapped.)
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { npmCommand, root } from './lib.mjs';

const resultsFolder = path.join(root, 'build', 'test-results');
rmSync(resultsFolder, { recursive: true, force: true });
mkdirSync(resultsFolder, { recursive: true });

const vitest = path.join(root, 'node_modules', 'vitest', 'vitest.mjs');
const vitestRun = (config, dir, name) => [
  process.execPath,
  [vitest, 'run', '-c', config, dir, '--reporter=default', '--reporter=json', `--outputFile.json=${path.join(resultsFolder, `${name}.json`)}`],
];

const addonScript = path.join(root, 'native', 'scripts', 'build-addon.sh');
const steps = [
  {
    name: 'addon',
    what: 'npm run build:native: the Node addon (build/addon)',
    cmd: [npmCommand(), ['run', '-s', 'build:native']],
    skip: existsSync(addonScript) ? null : 'native/scripts/build-addon.sh does not exist yet',
  },
  { name: 'typecheck', what: 'vue-tsc (renderer, tests) + tsc (main)', cmd: [npmCommand(), ['run', '-s', 'typecheck']] },
  { name: 'unit', what: 'vitest: test/unit', cmd: vitestRun('vitest.config.ts', 'test/unit', 'unit'), json: 'unit' },
  { name: 'native', what: 'cmake + ctest: native/tests', cmd: [npmCommand(), ['run', '-s', 'test:native']], ctest: true },
  { name: 'e2e', what: 'vitest + playwright-core in Chromium: test/e2e', cmd: vitestRun('vitest.e2e.config.ts', 'test/e2e', 'e2e'), json: 'e2e' },
  { name: 'packaging', what: 'electron-builder --linux dir: test/packaging', cmd: vitestRun('vitest.e2e.config.ts', 'test/packaging', 'packaging'), json: 'packaging' },
];

function vitestCounts(name) {
  const file = path.join(resultsFolder, `${name}.json`);
  if (!existsSync(file)) return null;
  const report = JSON.parse(readFileSync(file, 'utf8'));
  const skipped = [];
  for (const suite of report.testResults ?? []) {
    for (const test of suite.assertionResults ?? []) {
      if (test.status === 'pending' || test.status === 'skipped' || test.status === 'todo') {
        // One line per skipped group: its title carries the reason.
        const group = (test.ancestorTitles ?? []).join(' > ') || test.fullName;
        const known = skipped.find((s) => s.group === group);
        if (known) known.count += 1;
        else skipped.push({ group, count: 1 });
      }
    }
  }
  return {
    text: `${report.numPassedTests} passed, ${report.numFailedTests} failed, ${report.numPendingTests + (report.numTodoTests ?? 0)} skipped`,
    skipped: skipped.map((s) => `${s.group} [${s.count} test${s.count === 1 ? '' : 's'}]`),
  };
}

function ctestCounts(output) {
  const match = /(\d+)% tests passed, (\d+) tests failed out of (\d+)/.exec(output);
  if (!match) return { text: 'no test results (the build failed?)', skipped: [] };
  const total = Number(match[3]);
  const failed = Number(match[2]);
  const skipped = [...output.matchAll(/\d+\/\d+ Test +#\d+: (\S+) .*\*\*\*Skipped/g)].map((m) => m[1]);
  return { text: `${total - failed - skipped.length} passed, ${failed} failed, ${skipped.length} skipped`, skipped };
}

function teed(command, args) {
  return new Promise((resolve) => {
    let output = '';
    const child = spawn(command, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (chunk) => {
      output += chunk;
      process.stdout.write(chunk);
    });
    child.stderr.on('data', (chunk) => {
      output += chunk;
      process.stderr.write(chunk);
    });
    child.on('error', (error) => resolve({ status: 127, output: `${output}\n${error.message}` }));
    child.on('close', (code) => resolve({ status: code ?? 1, output }));
  });
}

const results = [];
const started = Date.now();
for (const step of steps) {
  console.log(`\n━━━ ${step.name}: ${step.what} ━━━`);
  if (step.skip) {
    console.log(`skipped: ${step.skip}`);
    results.push({ ...step, ok: true, skipped: true, seconds: 0, counts: { text: 'skipped', skipped: [step.skip] } });
    continue;
  }
  const t0 = Date.now();
  const [command, args] = step.cmd;
  let status;
  let counts = null;
  if (step.ctest) {
    // Tee the output: shown live, and kept for the counts.
    const result = await teed(command, args);
    status = result.status;
    counts = ctestCounts(result.output);
  } else {
    status = spawnSync(command, args, { cwd: root, stdio: 'inherit' }).status ?? 1;
    if (step.json) counts = vitestCounts(step.json);
  }
  results.push({ ...step, ok: status === 0, seconds: (Date.now() - t0) / 1000, counts });
}

const line = '═'.repeat(78);
console.log(`\n${line}\nDimba Studio test summary\n${line}`);
for (const r of results) {
  const detail = r.counts ? r.counts.text : r.ok ? 'ok' : 'failed';
  console.log(`${r.skipped ? 'SKIP' : r.ok ? 'PASS' : 'FAIL'}  ${r.name.padEnd(10)} ${detail.padEnd(40)} ${r.seconds.toFixed(1).padStart(6)} s`);
  for (const name of r.counts?.skipped ?? []) console.log(`      skipped: ${name}`);
}
const failed = results.filter((r) => !r.ok);
console.log(line);
console.log(
  `${failed.length === 0 ? 'ALL PASSED' : `FAILED: ${failed.map((r) => r.name).join(', ')}`}` +
    ` (${results.length - failed.length}/${results.length} steps) in ${((Date.now() - started) / 1000).toFixed(1)} s`,
);
process.exitCode = failed.length === 0 ? 0 : 1;
