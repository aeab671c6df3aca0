// `dimba train-builtin [--out DIR] [--steps N] [--minutes M] ...` (also `npm run train:builtin`):
// the built-in model's recipe (issue 8). The native tool train_builtin writes the vocabulary,
// the frozen text encoder and the Dimba config, builds the procedural dataset, trains with the
// engine's trainer until --steps or --minutes, evaluates on the held-out prompts and writes the
// manifest (recipe, seed, steps, final loss, scores, engine version). Its log streams through.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { defineCommand, EXIT_FAILED, EXIT_OK, UsageError } from '../command.js';
import { builtinTool, projectRoot } from './eval-builtin.js';

const OPTIONS = new Set(['--seed', '--steps', '--batch', '--items', '--lr', '--warmup', '--minutes', '--eval-limit']);

/** The tool's argument list; every option takes a number; --out defaults to assets/builtin. */
export function parseTrainArgs(args: readonly string[], root: string, engineVersion: string): string[] {
  let out = path.join(root, 'assets', 'builtin');
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const v = args[i + 1];
    if (arg === '--out') {
      if (v === undefined) throw new UsageError('--out needs a folder');
      out = path.resolve(v);
      i++;
    } else if (OPTIONS.has(arg)) {
      if (v === undefined || !Number.isFinite(Number(v)) || Number(v) < 0) throw new UsageError(`${arg} needs a number >= 0`);
      rest.push(arg, v);
      i++;
    } else {
      throw new UsageError(`unknown option ${arg}`);
    }
  }
  const state = path.join(root, 'build', 'builtin-train-state.safetensors');
  return ['train', '--out', out, '--state', state, '--engine-version', engineVersion, ...rest];
}

export default defineCommand({
  name: 'train-builtin',
  summary: 'Train the built-in model (procedural shapes, about 75 minutes on one CPU core)',
  usage: '[--out DIR] [--seed S] [--steps N] [--batch B] [--items N] [--lr X] [--warmup N] [--minutes M] [--eval-limit N]',
  async run(args, { err }) {
    const root = projectRoot();
    const toolArgs = parseTrainArgs(args, root, `dimba-studio ${process.env.npm_package_version ?? 'dev'}`);
    const tool = builtinTool(root);
    const code = await new Promise<number>((resolve) => {
      const child = spawn(tool, toolArgs, { stdio: 'inherit' });
      child.on('error', (e) => {
        err(`cannot start ${tool}: ${e.message}`);
        resolve(EXIT_FAILED);
      });
      child.on('exit', (c) => resolve(c ?? EXIT_FAILED));
    });
    return code === 0 ? EXIT_OK : EXIT_FAILED;
  },
});
