// Image sizes a model can make: its native side, the step every side must be a multiple of
// (patch size times the VAE's downscale, and the job contract's 8), and presets per aspect ratio
// at about the native area. Pure functions of a registered model's config.
import type { Model } from '@api';

export interface SizeRules {
  /** Every side is a multiple of this. */
  step: number;
  /** The side the model was trained at (square). */
  native: number;
  min: number;
  max: number;
}

export interface SizePreset {
  /** The aspect ratio it stands for ("4:3"), the same across models. */
  ratio: string;
  label: string;
  width: number;
  height: number;
}

/** The job contract's limits on a side (main/api/jobs.ts). */
const CONTRACT_STEP = 8;
const CONTRACT_MAX = 4096;
/** The SDXL VAE's downscale; a model with 3 input channels works on pixels. */
const VAE_FACTOR = 8;

const RATIOS: readonly [number, number][] = [
  [1, 1],
  [4, 3],
  [3, 4],
  [3, 2],
  [2, 3],
  [16, 9],
  [9, 16],
];

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

function positiveInt(value: unknown): number | null {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : null;
}

/** What a model's config says about sizes; a model without a config gets its kind's defaults. */
export function sizeRulesFor(model: Pick<Model, 'kind' | 'config'> | null): SizeRules {
  const config = model?.config ?? {};
  const pixelSpace = config.in_channels === 3 || (model?.kind === 'builtin' && config.in_channels === undefined);
  const factor = pixelSpace ? 1 : VAE_FACTOR;
  const patch = positiveInt(config.patch_size) ?? (pixelSpace ? 4 : 2);
  const unit = patch * factor;
  const step = (unit * CONTRACT_STEP) / gcd(unit, CONTRACT_STEP);
  const inputSize = positiveInt(config.input_size);
  const native = inputSize !== null ? inputSize * factor : pixelSpace ? 32 : 512;
  return { step, native: Math.max(step, roundTo(native, step)), min: step, max: Math.max(step, Math.floor(CONTRACT_MAX / step) * step) };
}

function roundTo(value: number, step: number): number {
  return Math.max(step, Math.round(value / step) * step);
}

/** One preset per aspect ratio at about the native area (duplicates after rounding dropped). */
export function presetsFor(rules: SizeRules): SizePreset[] {
  const out: SizePreset[] = [];
  for (const [a, b] of RATIOS) {
    const r = Math.sqrt(a / b);
    const width = Math.min(rules.max, roundTo(rules.native * r, rules.step));
    const height = Math.min(rules.max, roundTo(rules.native / r, rules.step));
    if (out.some((p) => p.width === width && p.height === height)) continue;
    out.push({ ratio: `${a}:${b}`, label: `${a}:${b} · ${width}×${height}`, width, height });
  }
  return out;
}

/** The preset of a ratio under these rules (the square when rounding merged it into another). */
export function presetOf(rules: SizeRules, ratio: string): SizePreset {
  const presets = presetsFor(rules);
  return presets.find((p) => p.ratio === ratio) ?? presets[0]!;
}

/** A side snapped to the rules (nearest multiple of the step, within bounds). */
export function snapSide(value: number, rules: SizeRules): number {
  if (!Number.isFinite(value)) return rules.native;
  return Math.min(rules.max, Math.max(rules.min, roundTo(value, rules.step)));
}
