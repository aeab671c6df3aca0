// `dimba generate "prompt" [options]`: runs the text-to-image pipeline once and writes PNGs whose
// recipe is embedded (an A1111-compatible `parameters` chunk and our `dimba` JSON chunk), with a
// progress bar on stderr. Arguments are checked before the model loads (minutes for the
// reference release), so a typo fails at once with exit code 2. The engine runs in its own
// process through the engine host, as in the studio: a crash there ends the command with the
// reason instead of a core dump of the CLI.
import { randomInt } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { defineCommand, EXIT_OK, UsageError, type Command } from '../command.js';
import type { GenerateProgress, PipelineWeights, SamplerName } from '../../engine/addon.js';
import type { BackendSetting } from '../../engine-host/backend.js';
import type { SpawnEngine } from '../../engine-host/channel.js';
import { nodeEngineSpawner } from '../../engine-host/channel.node.js';
import { ENGINE_ENTRY } from '../../engine-host/entry.js';
import { EngineHostError } from '../../engine-host/errors.js';
import { EngineHost } from '../../engine-host/host.js';
import type { ModelInfo } from '../../engine-host/protocol.js';
import { encodePng } from '../../services/images/png.js';
import { builtinManifestPath } from '../../services/models/builtin.js';
import { builtinModelFolder } from '../../runtime/paths.js';
import { makeImageRecipe, recipeChunks } from '../../services/images/recipe-chunks.js';
import { studioVersion } from '../../runtime/version.js';

const SAMPLERS: readonly SamplerName[] = ['dpm++2m', 'ddim', 'euler'];
const WEIGHTS: readonly PipelineWeights[] = ['bf16', 'f32'];
const BACKENDS: readonly BackendSetting[] = ['auto', 'cpu', 'vulkan', 'cuda'];
const MAX_SEED = 2n ** 64n - 1n;

export interface GenerateArgs {
  prompt: string;
  negative: string;
  /** Absent: a random seed, printed so the image can be made again. */
  seed: bigint | undefined;
  steps: number | undefined;
  guidance: number | undefined;
  sampler: SamplerName | undefined;
  width: number | undefined;
  height: number | undefined;
  count: number;
  /** A model manifest's path; absent: the built-in model (assets/builtin). */
  model: string | undefined;
  out: string;
  weights: PipelineWeights;
  /** auto: a GPU when the engine finds one, else the CPU; a named one that is unavailable fails. */
  backend: BackendSetting;
}

function integer(name: string, value: string, min: number, max: number): number {
  if (!/^\d+$/.test(value)) throw new UsageError(`--${name} takes a whole number, not "${value}"`);
  const n = Number(value);
  if (n < min || n > max) throw new UsageError(`--${name} must lie in [${min}, ${max}], not ${value}`);
  return n;
}

/** Parses and range-checks the arguments; throws UsageError (exit code 2) naming the bad one. */
export function parseGenerateArgs(args: readonly string[]): GenerateArgs {
  const positional: string[] = [];
  const values = new Map<string, string>();
  const known = ['negative', 'seed', 'steps', 'guidance', 'sampler', 'width', 'height', 'count', 'model', 'out', 'weights', 'backend'];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') {
      positional.push(...args.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    if (!known.includes(name)) throw new UsageError(`unknown option ${arg.slice(0, eq < 0 ? undefined : eq)}`);
    const value = eq < 0 ? args[++i] : arg.slice(eq + 1);
    if (value === undefined) throw new UsageError(`--${name} needs a value`);
    if (values.has(name)) throw new UsageError(`--${name} given twice`);
    values.set(name, value);
  }
  if (positional.length !== 1) {
    throw new UsageError(positional.length === 0 ? 'needs a prompt' : 'takes one prompt: quote it ("a red fox in snow")');
  }
  const get = (name: string) => values.get(name);
  const model = get('model');
  let seed: bigint | undefined;
  const seedText = get('seed');
  if (seedText !== undefined) {
    if (!/^\d+$/.test(seedText) || BigInt(seedText) > MAX_SEED) throw new UsageError(`--seed takes a whole number in [0, 2^64), not "${seedText}"`);
    seed = BigInt(seedText);
  }
  let guidance: number | undefined;
  const g = get('guidance');
  if (g !== undefined) {
    guidance = Number(g);
    if (g.trim() === '' || !Number.isFinite(guidance) || guidance < 0 || guidance > 100) {
      throw new UsageError(`--guidance takes a number in [0, 100], not "${g}"`);
    }
  }
  const sampler = get('sampler');
  if (sampler !== undefined && !SAMPLERS.includes(sampler as SamplerName)) {
    throw new UsageError(`--sampler takes one of ${SAMPLERS.join(', ')}, not "${sampler}"`);
  }
  // The built-in model is 7 MB: f32 costs nothing there and is what it was evaluated with.
  const weights = get('weights') ?? (model === undefined ? 'f32' : 'bf16');
  if (!WEIGHTS.includes(weights as PipelineWeights)) throw new UsageError(`--weights takes one of ${WEIGHTS.join(', ')}`);
  const backend = get('backend') ?? 'auto';
  if (!BACKENDS.includes(backend as BackendSetting)) throw new UsageError(`--backend takes one of ${BACKENDS.join(', ')}`);
  const size = (name: string) => {
    const v = get(name);
    if (v === undefined) return undefined;
    const n = integer(name, v, 8, 4096);
    if (n % 8 !== 0) throw new UsageError(`--${name} must be a multiple of 8 (the VAE's scale), not ${n}`);
    return n;
  };
  const count = get('count') === undefined ? 1 : integer('count', get('count')!, 1, 64);
  if (seed !== undefined && seed + BigInt(count - 1) > MAX_SEED) throw new UsageError('--seed + --count - 1 exceeds 2^64 - 1');
  const steps = get('steps');
  return {
    prompt: positional[0]!,
    negative: get('negative') ?? '',
    seed,
    steps: steps === undefined ? undefined : integer('steps', steps, 1, 1000),
    guidance,
    sampler: sampler as SamplerName | undefined,
    width: size('width'),
    height: size('height'),
    count,
    model,
    out: get('out') ?? '.',
    weights: weights as PipelineWeights,
    backend: backend as BackendSetting,
  };
}

/** A bar redrawn in place on a terminal; one line per stage change otherwise (logs stay readable). */
class ProgressView {
  private lastLine = '';
  constructor(
    private readonly tty: boolean,
    private readonly err: (text: string) => void,
  ) {}

  update(p: Pick<GenerateProgress, 'stage' | 'image' | 'count' | 'step' | 'steps'>): void {
    // The text stage serves every image of the job, so it names none.
    const which = p.count > 1 && p.stage !== 'text' ? `image ${p.image + 1}/${p.count} ` : '';
    if (!this.tty) {
      if (p.stage !== 'sampling' || p.step === 1) this.err(`${which}${p.stage}...`);
      return;
    }
    const width = 30;
    const done = p.stage === 'sampling' ? Math.round((p.step / p.steps) * width) : p.stage === 'decoding' ? width : 0;
    const line =
      `\r${which}[${'#'.repeat(done)}${'.'.repeat(width - done)}] ` +
      (p.stage === 'sampling' ? `step ${p.step}/${p.steps}` : p.stage);
    if (line !== this.lastLine) process.stderr.write(line.padEnd(this.lastLine.length));
    this.lastLine = line;
  }

  finish(): void {
    if (this.tty && this.lastLine) process.stderr.write('\n');
    this.lastLine = '';
  }
}

/** `dimba-<seed>.png`, or `dimba-<seed>-<n>.png` when that exists: never overwrite an image. */
function freeName(dir: string, seed: number | bigint): string {
  for (let n = 0; ; n++) {
    const file = path.join(dir, n === 0 ? `dimba-${seed}.png` : `dimba-${seed}-${n}.png`);
    if (!existsSync(file)) return file;
  }
}

/** The command on a given way of starting the engine process (tests pass a stand-in). */
export function makeGenerateCommand(spawn: () => SpawnEngine): Command {
  return defineCommand({
    name: 'generate',
    summary: 'Make images from a prompt and write them as PNGs with the recipe embedded',
    usage:
      '"PROMPT" [--model MANIFEST] [--negative TEXT] [--seed N] [--steps N] [--guidance X] [--sampler dpm++2m|ddim|euler] ' +
      '[--width PX] [--height PX] [--count N] [--out DIR] [--weights bf16|f32] [--backend auto|cpu|vulkan|cuda]',
    async run(args, { out, err }) {
      const a = parseGenerateArgs(args);
      const manifest = a.model === undefined ? builtinManifestPath(builtinModelFolder) : path.resolve(a.model);
      if (!existsSync(manifest)) {
        throw new UsageError(a.model === undefined ? `the built-in model is missing (${manifest}): pass --model MANIFEST` : `--model: ${manifest} does not exist`);
      }
      const outDir = path.resolve(a.out);
      mkdirSync(outDir, { recursive: true });

      const host = new EngineHost({ spawn: spawn(), backendSetting: () => a.backend });
      try {
        err(`loading ${manifest} (${a.weights} weights)...`);
        const model = await host.ensureModel(manifest, a.weights);
        const backend = host.backend?.backend ?? 'cpu';
        if (host.backend) err(`backend ${backend}: ${host.backend.reason}`);
        // The studio falls back to the CPU when its setting names a missing backend; a command
        // line that names one fails instead of running somewhere else.
        if (a.backend !== 'auto' && backend !== a.backend) {
          throw new Error(`--backend ${a.backend} is not available: ${host.backend?.reason ?? 'the engine did not say why'}`);
        }
        const d = model.defaults;
        const width = a.width ?? d.width;
        const height = a.height ?? d.height;
        for (const [name, v] of [['width', width], ['height', height]] as const) {
          if (v % model.sizeMultiple !== 0) {
            throw new UsageError(`--${name} must be a multiple of ${model.sizeMultiple} for ${model.name}, not ${v}`);
          }
        }
        const seed = a.seed ?? BigInt(randomInt(0, 2 ** 32));
        const recipe = {
          prompt: a.prompt,
          negativePrompt: a.negative,
          steps: a.steps ?? d.steps,
          guidance: a.guidance ?? d.guidance,
          sampler: a.sampler ?? (d.sampler as SamplerName),
          width,
          height,
        };
        err(`seed ${seed}, ${recipe.steps} steps, ${recipe.sampler}, guidance ${recipe.guidance}, ${width}x${height}, ${a.count} image(s)`);
        const view = new ProgressView(process.stderr.isTTY === true, err);
        // Ctrl-C cancels before the next model call instead of killing the engine mid-write.
        const jobId = 'cli';
        const onSigint = () => host.cancel(jobId);
        process.once('SIGINT', onSigint);
        let result;
        try {
          result = await host.run(jobId, { ...recipe, seed: seed.toString(), count: a.count, previewEvery: 0 }, { onProgress: (p) => view.update(p) });
        } catch (error) {
          if (error instanceof EngineHostError && error.code === 'E_INVALID_ARGUMENT') throw new UsageError(error.message);
          throw error;
        } finally {
          process.off('SIGINT', onSigint);
          view.finish();
        }
        for (const image of result.images) {
          const imageSeed = BigInt(image.seed);
          const file = freeName(outDir, imageSeed);
          writeFileSync(file, encodePng(image, recipeChunks(makeImageRecipe(recipe, model, imageSeed, { version: studioVersion(), backend }))));
          out(file);
        }
        const t = result.times;
        const n = result.images.length;
        err(`${n} image(s): text ${t.text.toFixed(2)} s, sampling ${(t.sampling / n).toFixed(2)} s/image, decode ${(t.decode / n).toFixed(2)} s/image`);
        return EXIT_OK;
      } finally {
        host.stop();
      }
    },
  });
}

export default makeGenerateCommand(() => nodeEngineSpawner(ENGINE_ENTRY));
