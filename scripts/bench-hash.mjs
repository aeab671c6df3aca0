// Benchmark: SHA-256 of a 1 GiB file by the studio's hasher (main/services/models/hash.ts, a
// worker thread) against coreutils `sha256sum`, alternating runs on a warm page cache so the
// disk is out of the comparison. Prints every run and the medians; deletes the file after.
// Usage: npm run build:main && node scripts/bench-hash.mjs [MiB=1024] [runs=3]
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, rmSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

const { sha256File } = await import('../dist/main/services/models/hash.js');
const mib = Number(process.argv[2] ?? 1024);
const runs = Number(process.argv[3] ?? 3);
const file = path.join(os.tmpdir(), `dimba-bench-hash-${process.pid}.bin`);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

try {
  const block = randomBytes(16 << 20);
  const fd = openSync(file, 'w');
  for (let written = 0; written < mib; written += 16) writeSync(fd, block, 0, Math.min(16, mib - written) << 20);
  closeSync(fd);
  execFileSync('sha256sum', [file]); // warm the page cache
  const ours = [];
  const theirs = [];
  let a = '';
  let b = '';
  for (let k = 0; k < runs; k++) {
    let t = performance.now();
    b = execFileSync('sha256sum', [file], { encoding: 'utf8' }).split(' ')[0];
    theirs.push((performance.now() - t) / 1000);
    t = performance.now();
    a = (await sha256File(file)).sha256;
    ours.push((performance.now() - t) / 1000);
    console.log(`run ${k + 1}: sha256sum ${theirs[k].toFixed(2)} s, studio ${ours[k].toFixed(2)} s`);
  }
  if (a !== b) throw new Error(`hashes differ: studio ${a}, sha256sum ${b}`);
  const mt = median(theirs);
  const mo = median(ours);
  console.log(`${mib} MiB, median of ${runs}: sha256sum ${mt.toFixed(2)} s (${(mib / mt).toFixed(0)} MiB/s), studio ${mo.toFixed(2)} s (${(mib / mo).toFixed(0)} MiB/s)`);
} finally {
  rmSync(file, { force: true });
}
