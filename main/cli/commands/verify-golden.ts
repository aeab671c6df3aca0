// `dimba verify-golden DIR CASE [--weights f32|bf16|f16] [--backend cpu|vulkan|cuda|auto]`: runs
// one golden case of any kind laid out like ../shared/golden through the engine (its models on
// the backend, cpu by default) and prints each compared tensor's error.
import path from 'node:path';
import { defineCommand, EXIT_FAILED, EXIT_OK, UsageError } from '../command.js';
import { verifyGolden, type BackendName, type WeightDtype } from '../../engine/addon.js';

const WEIGHTS: readonly WeightDtype[] = ['f32', 'bf16', 'f16'];
const BACKENDS: readonly BackendName[] = ['cpu', 'vulkan', 'cuda', 'auto'];

export default defineCommand({
  name: 'verify-golden',
  summary: 'Check the engine against a golden case (relative L2 error per tensor)',
  usage: 'DIR CASE [--weights f32|bf16|f16] [--backend cpu|vulkan|cuda|auto]',
  async run(args, { out }) {
    const positional: string[] = [];
    let weights: WeightDtype = 'f32';
    let backend: BackendName = 'cpu';
    for (let i = 0; i < args.length; i++) {
      const arg = args[i]!;
      if (arg === '--weights') {
        const value = args[++i];
        if (!WEIGHTS.includes(value as WeightDtype)) throw new UsageError(`--weights takes one of ${WEIGHTS.join(', ')}`);
        weights = value as WeightDtype;
      } else if (arg === '--backend') {
        const value = args[++i];
        if (!BACKENDS.includes(value as BackendName)) throw new UsageError(`--backend takes one of ${BACKENDS.join(', ')}`);
        backend = value as BackendName;
      } else if (arg.startsWith('--')) {
        throw new UsageError(`unknown option ${arg}`);
      } else {
        positional.push(arg);
      }
    }
    if (positional.length !== 2) throw new UsageError('needs a directory and a case name');
    const [dir, caseName] = positional as [string, string];
    const report = await verifyGolden(path.resolve(dir), caseName, weights, backend);
    const width = Math.max(...report.lines.map((l) => l.name.length), 10);
    for (const line of report.lines) {
      const err = Number.isFinite(line.relErr) ? line.relErr.toExponential(3) : String(line.relErr);
      out(`${line.pass ? 'PASS' : 'FAIL'}  ${line.name.padEnd(width)}  rel_l2 ${err}  (tol ${line.tol.toExponential(0)})`);
    }
    const failed = report.lines.filter((l) => !l.pass).length;
    out(`${report.kind} ${caseName} (${weights} weights, ${backend}): ${report.lines.length - failed} passed, ${failed} failed`);
    return report.pass ? EXIT_OK : EXIT_FAILED;
  },
});
