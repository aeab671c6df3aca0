import { describe, expect, it } from 'vitest';
import { presetOf, presetsFor, sizeRulesFor, snapSide } from '../../../renderer/composables/sizePresets';

const BUILTIN = { kind: 'builtin' as const, config: { patch_size: 4, in_channels: 3, input_size: 32 } };
const DIMBA_L = { kind: 'dimba' as const, config: { patch_size: 2, in_channels: 4, input_size: 64 } };

describe('size presets', () => {
  it('the built-in pixel-space model: 32x32, sides in steps of 8 (patch 4, the contract asks 8)', () => {
    const rules = sizeRulesFor(BUILTIN);
    expect(rules).toEqual({ step: 8, native: 32, min: 8, max: 4096 });
    const presets = presetsFor(rules);
    expect(presets[0]).toEqual({ ratio: '1:1', label: '1:1 · 32×32', width: 32, height: 32 });
    for (const p of presets) expect([p.width % 8, p.height % 8]).toEqual([0, 0]);
  });

  it('a latent Dimba (patch 2 on the 8x VAE): 512 native, steps of 16, every ratio distinct and valid', () => {
    const rules = sizeRulesFor(DIMBA_L);
    expect(rules).toMatchObject({ step: 16, native: 512 });
    const presets = presetsFor(rules);
    expect(presets.map((p) => `${p.width}x${p.height}`)).toEqual(['512x512', '592x448', '448x592', '624x416', '416x624', '688x384', '384x688']);
    for (const p of presets) expect([p.width % 16, p.height % 16]).toEqual([0, 0]);
  });

  it('a model without a config gets its kind defaults', () => {
    expect(sizeRulesFor({ kind: 'dimba', config: null })).toMatchObject({ step: 16, native: 512 });
    expect(sizeRulesFor(null)).toMatchObject({ step: 16, native: 512 });
    expect(sizeRulesFor({ kind: 'builtin', config: null })).toMatchObject({ step: 8, native: 32 });
  });

  it('keeps a ratio across models: the preset of that ratio, or the square when rounding merged it', () => {
    expect(presetOf(sizeRulesFor(DIMBA_L), '16:9')).toMatchObject({ width: 688, height: 384 });
    const tiny = { step: 16, native: 16, min: 16, max: 4096 };
    expect(presetsFor(tiny).map((p) => p.ratio)).toEqual(['1:1']);
    expect(presetOf(tiny, '16:9')).toMatchObject({ ratio: '1:1', width: 16, height: 16 });
  });

  it('snaps typed sides to the step and bounds', () => {
    const rules = sizeRulesFor(DIMBA_L);
    expect([snapSide(250, rules), snapSide(1, rules), snapSide(99999, rules), snapSide(Number.NaN, rules)]).toEqual([256, 16, 4096, 512]);
  });
});
