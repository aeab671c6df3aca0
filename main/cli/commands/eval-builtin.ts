// `dimba eval-builtin [--model DIR] [--limit N] [--steps N] [--guidance G] [--captions full|plain]
// [--random-init SEED] [--check]`: the built-in model's evaluation (issue 8). The native tool
// train_builtin generates one image per held-out prompt (a (shape, colour, background, position)
// combination never seen in training) and measures each image's background, object colour,
// position and shape; this command prints per-attribute accuracy beside the targets.
// `--captions plain` prompts without size or position ("a red star on a blue background"),
// which by the dataset's convention asks for a centred object. `--check` instead
// scores the dataset's own images and noise (the checker's honesty), `--random-init` an
// untrained network.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { defineCommand, EXIT_FAILED, EXIT_OK, UsageError } from '../command.js';

/** The acceptance targets per attribute. */
export const BUILTIN_TARGETS = { colour: 0.9, background: 0.9, position: 0.8, shape: 0.75 } as const;

const scoresSchema = z.object({
  n: z.number().int().nonnegative(),
  colour: z.number().min(0).max(1),
  background: z.number().min(0).max(1),
  position: z.number().min(0).max(1),
  shape: z.number().min(0).max(1),
  all: z.number().min(0).max(1),
  /** Per wanted shape, in the checker's order: how often it was measured as each shape (the
   *  keys' order), then as no object. */
  shape_confusion: z.record(z.string(), z.array(z.number().int().nonnegative())).optional(),
});
export type BuiltinScores = z.infer<typeof scoresSchema>;

const evalReportSchema = z.object({
  model: z.string(),
  steps: z.number().int(),
  guidance: z.number(),
  seconds: z.number(),
  scores: scoresSchema,
});
const checkReportSchema = z.object({ dataset: scoresSchema, noise: scoresSchema });
export type EvalReport = z.infer<typeof evalReportSchema>;

/** The repository root: the nearest folder above this file holding package.json and native/. */
export function projectRoot(from = path.dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  for (;;) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'native'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error('cannot find the project root (package.json beside native/)');
    dir = up;
  }
}

/** The native tool: DIMBA_BUILTIN_TOOL, else build/native/train_builtin (npm run build:native). */
export function builtinTool(root = projectRoot()): string {
  const tool = process.env.DIMBA_BUILTIN_TOOL ?? path.join(root, 'build', 'native', 'train_builtin');
  if (!existsSync(tool)) throw new Error(`${tool} is missing: run \`npm run build:native\` first`);
  return tool;
}

/** The last line of the tool's stdout that parses as JSON, validated by `schema`. */
export function parseToolReport<T>(stdout: string, schema: z.ZodType<T>): T {
  const lines = stdout.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('{'));
  const last = lines.at(-1);
  if (last === undefined) throw new Error('the evaluation tool printed no report');
  let value: unknown;
  try {
    value = JSON.parse(last);
  } catch {
    throw new Error(`the evaluation tool printed malformed JSON: ${last.slice(0, 200)}`);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new Error(`unexpected evaluation report: ${parsed.error.message}`);
  return parsed.data;
}

/** One line per attribute: accuracy, target, and whether it is met. */
export function formatScores(scores: BuiltinScores): string[] {
  const rows = (Object.keys(BUILTIN_TARGETS) as (keyof typeof BUILTIN_TARGETS)[]).map((key) => {
    const got = scores[key];
    const target = BUILTIN_TARGETS[key];
    return `${key.padEnd(10)} ${(100 * got).toFixed(1).padStart(5)}%  (target ${(100 * target).toFixed(0)}%)  ${got >= target ? 'met' : 'NOT met'}`;
  });
  rows.push(`${'all four'.padEnd(10)} ${(100 * scores.all).toFixed(1).padStart(5)}%  over ${scores.n} prompts`);
  return rows;
}

/** One line per wanted shape: its accuracy and what it was drawn as instead, most often first. */
export function formatShapeConfusion(scores: BuiltinScores): string[] {
  const confusion = scores.shape_confusion;
  if (!confusion) return [];
  const shapes = Object.keys(confusion);
  const columns = [...shapes, 'none'];
  return shapes.flatMap((shape, row) => {
    const counts = confusion[shape] ?? [];
    const n = counts.reduce((a, b) => a + b, 0);
    if (n === 0) return [];
    const misses = counts
      .map((count, col) => ({ name: columns[col] ?? `#${col}`, count, col }))
      .filter((m) => m.col !== row && m.count > 0)
      .sort((a, b) => b.count - a.count)
      .map((m) => `${m.name} ${m.count}`);
    const rate = (100 * (counts[row] ?? 0)) / n;
    const tail = misses.length > 0 ? `  drawn as: ${misses.join(', ')}` : '';
    return [`  ${shape.padEnd(9)} ${rate.toFixed(1).padStart(5)}% of ${n}${tail}`];
  });
}

interface EvalArgs {
  toolArgs: string[];
  check: boolean;
}

const NUMERIC = new Set(['--limit', '--steps', '--guidance', '--random-init']);

export function parseEvalArgs(args: readonly string[], root: string): EvalArgs {
  let model = path.join(root, 'assets', 'builtin');
  let check = false;
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--check') {
      check = true;
    } else if (arg === '--model') {
      const v = args[++i];
      if (v === undefined) throw new UsageError('--model needs a folder');
      model = path.resolve(v);
    } else if (arg === '--captions') {
      const v = args[++i];
      if (v !== 'full' && v !== 'plain') throw new UsageError('--captions is full or plain');
      rest.push(arg, v);
    } else if (NUMERIC.has(arg)) {
      const v = args[++i];
      if (v === undefined || !Number.isFinite(Number(v)) || Number(v) < 0) throw new UsageError(`${arg} needs a number >= 0`);
      rest.push(arg, v);
    } else {
      throw new UsageError(`unknown option ${arg}`);
    }
  }
  if (check) return { toolArgs: ['check', '--n', '500'], check };
  return { toolArgs: ['eval', '--model', model, ...rest], check };
}

function runTool(tool: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(tool, args, { maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${path.basename(tool)} failed: ${stderr.trim() || error.message}`));
      else resolve(stdout);
    });
  });
}

export default defineCommand({
  name: 'eval-builtin',
  summary: 'Per-attribute accuracy of the built-in model on held-out prompts',
  usage: '[--model DIR] [--limit N] [--steps N] [--guidance G] [--captions full|plain] [--random-init SEED] [--check]',
  async run(args, { out }) {
    const root = projectRoot();
    const parsed = parseEvalArgs(args, root);
    const stdout = await runTool(builtinTool(root), parsed.toolArgs);
    if (parsed.check) {
      const report = parseToolReport(stdout, checkReportSchema);
      out('the checker on the dataset\'s own images:');
      for (const line of formatScores(report.dataset)) out(`  ${line}`);
      out('the checker on noise (chance: colour/background 12.5%, position 20%, shape 20%):');
      for (const line of formatScores(report.noise)) out(`  ${line}`);
      return EXIT_OK;
    }
    const report = parseToolReport(stdout, evalReportSchema);
    out(`${report.model} model, ${report.steps} steps, guidance ${report.guidance}, ${report.seconds.toFixed(0)} s`);
    for (const line of formatScores(report.scores)) out(line);
    const byShape = formatShapeConfusion(report.scores);
    if (byShape.length > 0) out('shape, by the shape asked for:');
    for (const line of byShape) out(line);
    return report.scores.n > 0 ? EXIT_OK : EXIT_FAILED;
  },
});
