import { describe, expect, it } from 'vitest';
import { EXIT_USAGE, UsageError } from '../../../main/cli/command.js';
import generateCommand, { parseGenerateArgs } from '../../../main/cli/commands/generate.js';
import { runCli } from '../../../main/cli/registry.js';

const model = ['--model', 'models/dimba-l-512.json'];

function usageMessage(args: string[]): string {
  try {
    parseGenerateArgs(args);
  } catch (error) {
    if (error instanceof UsageError) return error.message;
    throw error;
  }
  return '';
}

describe('dimba generate arguments', () => {
  it('reads every option, in both --name value and --name=value forms', () => {
    const a = parseGenerateArgs([
      'a red fox',
      '--negative',
      'blurry',
      '--seed=18446744073709551615',
      '--steps',
      '30',
      '--guidance',
      '7.5',
      '--sampler',
      'ddim',
      '--width',
      '768',
      '--height=512',
      '--out',
      'images',
      '--weights',
      'f32',
      '--backend',
      'vulkan',
      ...model,
    ]);
    expect(a).toEqual({
      prompt: 'a red fox',
      negative: 'blurry',
      seed: 18446744073709551615n,
      steps: 30,
      guidance: 7.5,
      sampler: 'ddim',
      width: 768,
      height: 512,
      count: 1,
      model: 'models/dimba-l-512.json',
      out: 'images',
      weights: 'f32',
      backend: 'vulkan',
    });
  });

  it('leaves unset options to the model defaults (seed random, bf16 weights)', () => {
    const a = parseGenerateArgs(['a fox', ...model]);
    expect(a.seed).toBeUndefined();
    expect(a.steps).toBeUndefined();
    expect(a.width).toBeUndefined();
    expect(a.weights).toBe('bf16');
    expect(a.backend).toBe('auto');
    expect(a.count).toBe(1);
  });

  it('runs the built-in model without --model, with f32 weights', () => {
    const a = parseGenerateArgs(['a red star on a blue background']);
    expect(a.model).toBeUndefined();
    expect(a.weights).toBe('f32');
    expect(parseGenerateArgs(['a fox', '--model', 'm.json', '--weights', 'bf16']).weights).toBe('bf16');
  });

  it.each([
    [['--steps', '20', ...model], /needs a prompt/],
    [['a', 'b', ...model], /one prompt/],
    [['a', '--steps', '0', ...model], /--steps must lie in \[1, 1000\]/],
    [['a', '--steps', 'ten', ...model], /--steps takes a whole number/],
    [['a', '--guidance', '-1', ...model], /--guidance/],
    [['a', '--guidance', 'NaN', ...model], /--guidance/],
    [['a', '--sampler', 'plms', ...model], /--sampler takes one of dpm\+\+2m, ddim, euler/],
    [['a', '--width', '500', ...model], /--width must be a multiple of 8/],
    [['a', '--height', '99999', ...model], /--height must lie in/],
    [['a', '--count', '0', ...model], /--count/],
    [['a', '--seed', '-3', ...model], /--seed/],
    [['a', '--seed', '18446744073709551616', ...model], /--seed/],
    [['a', '--weights', 'f16', ...model], /--weights/],
    [['a', '--backend', 'metal', ...model], /--backend takes one of auto, cpu, vulkan, cuda/],
    [['a', '--frobnicate', ...model], /unknown option --frobnicate/],
    [['a', ...model, '--seed'], /--seed needs a value/],
    [['a', '--steps', '3', '--steps', '4', ...model], /given twice/],
  ])('refuses %j', (args, message) => {
    expect(usageMessage(args)).toMatch(message);
  });

  it('exits with 2 on bad arguments, before loading anything', async () => {
    const err: string[] = [];
    const code = await runCli(['generate', 'a fox', '--steps', '0', ...model], [generateCommand], {
      out: () => undefined,
      err: (t) => err.push(t),
    });
    expect(code).toBe(EXIT_USAGE);
    expect(err.join('\n')).toContain('usage: dimba generate');
  });
});
