import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { UsageError } from '../../../main/cli/command.js';
import {
  BUILTIN_TARGETS,
  formatScores,
  formatShapeConfusion,
  parseEvalArgs,
  parseToolReport,
  projectRoot,
} from '../../../main/cli/commands/eval-builtin.js';
import { parseTrainArgs } from '../../../main/cli/commands/train-builtin.js';

const scores = { n: 233, colour: 0.95, background: 0.99, position: 0.7, shape: 0.5, all: 0.3 };

describe('dimba eval-builtin', () => {
  it('reads the last JSON line of the tool and validates it', () => {
    const schema = z.object({ scores: z.object({ n: z.number() }) });
    const stdout = 'dataset: 64 / 64\n{"scores": {"n": 1}}\nnoise\n{"scores": {"n": 233}}\n';
    expect(parseToolReport(stdout, schema).scores.n).toBe(233);
  });

  it('refuses a missing, malformed or mistyped report with a clear error', () => {
    const schema = z.object({ n: z.number() });
    expect(() => parseToolReport('step 25 loss 0.9\n', schema)).toThrow(/no report/);
    expect(() => parseToolReport('{"n": 1,\n', schema)).toThrow(/malformed JSON/);
    expect(() => parseToolReport('{"n": "many"}\n', schema)).toThrow(/unexpected evaluation report/);
  });

  it('prints each attribute against its target', () => {
    const lines = formatScores(scores);
    expect(lines).toHaveLength(5);
    expect(lines[0]).toMatch(/^colour\s+95\.0%\s+\(target 90%\)\s+met$/);
    expect(lines[2]).toMatch(/^position\s+70\.0%\s+\(target 80%\)\s+NOT met$/);
    expect(lines[4]).toContain('233 prompts');
    expect(BUILTIN_TARGETS.shape).toBe(0.75);
  });

  it('breaks shape down by the shape asked for, misses most frequent first', () => {
    const confusion = {
      circle: [8, 0, 0, 0, 2, 0],
      square: [0, 10, 0, 0, 0, 0],
      triangle: [0, 0, 0, 0, 0, 0],
      star: [3, 0, 1, 4, 0, 2],
      ring: [0, 0, 0, 0, 5, 0],
    };
    const lines = formatShapeConfusion({ ...scores, shape_confusion: confusion });
    expect(lines).toEqual([
      '  circle     80.0% of 10  drawn as: ring 2',
      '  square    100.0% of 10',
      '  star       40.0% of 10  drawn as: circle 3, none 2, triangle 1',
      '  ring      100.0% of 5',
    ]);
    expect(formatShapeConfusion(scores)).toEqual([]);  // an older tool's report has no breakdown
  });

  it('passes numeric options to the tool and the shipped model by default', () => {
    const root = '/repo';
    expect(parseEvalArgs(['--limit', '16', '--steps', '10'], root).toolArgs).toEqual([
      'eval', '--model', path.join(root, 'assets', 'builtin'), '--limit', '16', '--steps', '10',
    ]);
    expect(parseEvalArgs(['--check'], root).toolArgs[0]).toBe('check');
    expect(parseEvalArgs(['--captions', 'plain'], root).toolArgs.slice(-2)).toEqual(['--captions', 'plain']);
  });

  it('refuses unknown options and non-numbers as usage errors', () => {
    expect(() => parseEvalArgs(['--limt', '3'], '/r')).toThrow(UsageError);
    expect(() => parseEvalArgs(['--steps', 'ten'], '/r')).toThrow(UsageError);
    expect(() => parseEvalArgs(['--steps', '-1'], '/r')).toThrow(UsageError);
    expect(() => parseEvalArgs(['--model'], '/r')).toThrow(UsageError);
    expect(() => parseEvalArgs(['--captions', 'short'], '/r')).toThrow(UsageError);
  });

  it('finds the project root from its own folder', () => {
    expect(projectRoot()).toBe(path.resolve(__dirname, '../../..'));
  });
});

describe('dimba train-builtin', () => {
  it('writes into assets/builtin with the state under build/ unless told otherwise', () => {
    const args = parseTrainArgs(['--steps', '100', '--minutes', '5'], '/repo', 'v1');
    expect(args.slice(0, 3)).toEqual(['train', '--out', path.join('/repo', 'assets', 'builtin')]);
    expect(args).toContain(path.join('/repo', 'build', 'builtin-train-state.safetensors'));
    expect(args.slice(-4)).toEqual(['--steps', '100', '--minutes', '5']);
  });

  it('refuses unknown options and bad numbers', () => {
    expect(() => parseTrainArgs(['--epochs', '3'], '/r', 'v')).toThrow(UsageError);
    expect(() => parseTrainArgs(['--lr', 'fast'], '/r', 'v')).toThrow(UsageError);
    expect(() => parseTrainArgs(['--out'], '/r', 'v')).toThrow(UsageError);
  });
});
