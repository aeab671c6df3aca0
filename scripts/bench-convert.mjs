// Benchmark: .pt -> safetensors by the studio's converter (main/services/models/convert/)
// against `cp` + `sync` of the same file (the floor: every byte read, written and flushed once,
// as the converter fsyncs before its rename), on a warm page cache. The .pt is a torch.save archive of float32 tensors written by the engine's fixture
// generator (native/tests/data/make_torch_fixtures.py; python3 stdlib, no torch). Prints every
// run and the medians; deletes its files after.
// Usage: npm run build:main && node scripts/bench-convert.mjs [MiB=1024] [runs=3]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

const { convertPtToSafetensors } = await import('../dist/main/services/models/convert/pt-to-safetensors.js');
const mib = Number(process.argv[2] ?? 1024);
const runs = Number(process.argv[3] ?? 3);
const dir = mkdtempSync(path.join(os.tmpdir(), 'dimba-bench-convert-'));
const src = path.join(dir, 'model.pt');
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const MAKE = `
import sys, os, collections
sys.path.insert(0, ${JSON.stringify(path.resolve('native/tests/data'))})
import make_torch_fixtures as m
class Raw(m.Storage):
    def __init__(self, data):
        self.type_name, self.data, self.numel = 'FloatStorage', data, len(data) // 4
block = os.urandom(1 << 20)
n, per = 64, max(1, ${mib} // 64)
items = [('blocks.%d.weight' % i, m.Tensor(Raw(block * per), 0, (per * 512, 512))) for i in range(n)]
m.OUT = ${JSON.stringify(dir)}
m.torch_save('model.pt', {'state_dict': m.state_dict(items), 'step': 1})
`;

try {
  let t = performance.now();
  execFileSync('python3', ['-c', MAKE]);
  const bytes = statSync(src).size;
  console.log(`wrote ${src}: ${(bytes / 2 ** 20).toFixed(0)} MiB in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  execFileSync('cat', [src], { stdio: ['ignore', 'ignore', 'inherit'] }); // warm the page cache
  const ours = [];
  const theirs = [];
  for (let k = 0; k < runs; k++) {
    const copy = path.join(dir, 'copy.bin');
    const dest = path.join(dir, 'model.safetensors');
    t = performance.now();
    execFileSync('cp', [src, copy]);
    execFileSync('sync', [copy]);
    theirs.push((performance.now() - t) / 1000);
    rmSync(copy);
    t = performance.now();
    const cpu = process.cpuUsage();
    const r = await convertPtToSafetensors(src, dest);
    ours.push((performance.now() - t) / 1000);
    const used = process.cpuUsage(cpu);
    rmSync(dest);
    console.log(
      `run ${k + 1}: cp+sync ${theirs[k].toFixed(2)} s, convert ${ours[k].toFixed(2)} s ` +
        `(${((used.user + used.system) / 1e6).toFixed(2)} CPU s, ${r.tensors} tensors)`,
    );
  }
  const mib2 = bytes / 2 ** 20;
  const mt = median(theirs);
  const mo = median(ours);
  console.log(`${mib2.toFixed(0)} MiB, median of ${runs}: cp+sync ${mt.toFixed(2)} s (${(mib2 / mt).toFixed(0)} MiB/s), convert ${mo.toFixed(2)} s (${(mib2 / mo).toFixed(0)} MiB/s)`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
