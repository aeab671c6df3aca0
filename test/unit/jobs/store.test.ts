// The queue's record semantics, for the memory and the SQLite store alike: run order, atomic
// claim, moves, requeues, pause, and (SQLite) surviving a restart.
import { describe, expect, it } from 'vitest';
import type { JobRecipe } from '../../../main/api/jobs.js';
import { JobsError } from '../../../main/services/jobs/jobs.js';
import { useTempFolders } from '../support/temp.js';
import { memoryStore, sqliteStore } from './stores.js';

const T = '2026-01-01T00:00:00.000Z';
const recipe = (prompt: string): JobRecipe => ({ prompt, negativePrompt: '', model: '/m.json' });

describe.each([memoryStore, sqliteStore])('job store ($name)', (fixture) => {
  const temp = useTempFolders();
  const open = () => fixture.open(temp()).store;

  it('claims queued jobs in insertion order, each exactly once', () => {
    const s = open();
    const a = s.insert(recipe('a'), 1, T);
    const b = s.insert(recipe('b'), 3, T);
    expect(a.status).toBe('queued');
    const first = s.claimNext(T)!;
    expect(first).toMatchObject({ id: a.id, status: 'running', attempts: 1, startedAt: T });
    expect(s.claimNext(T)!.id).toBe(b.id);
    expect(s.claimNext(T)).toBeUndefined();
  });

  it('moves a queued job before another, or to the end', () => {
    const s = open();
    const [a, b, c] = ['a', 'b', 'c'].map((p) => s.insert(recipe(p), 1, T));
    s.move(c!.id, a!.id);
    expect(s.list({ statuses: ['queued'] }).map((j) => j.recipe.prompt)).toEqual(['c', 'a', 'b']);
    s.move(a!.id, b!.id);
    expect(s.list({ statuses: ['queued'] }).map((j) => j.recipe.prompt)).toEqual(['c', 'a', 'b']);
    s.move(c!.id, null);
    expect(s.list({ statuses: ['queued'] }).map((j) => j.recipe.prompt)).toEqual(['a', 'b', 'c']);
    s.move(b!.id, a!.id);
    expect(s.claimNext(T)!.recipe.prompt).toBe('b');
  });

  it('refuses to move a job that is not queued, or an unknown one, with a typed error', () => {
    const s = open();
    const a = s.insert(recipe('a'), 1, T);
    const b = s.insert(recipe('b'), 1, T);
    s.claimNext(T);
    expect(() => s.move(a.id, null)).toThrow(JobsError);
    expect(() => s.move(b.id, a.id)).toThrow(/not queued/);
    expect(() => s.move('nope', null)).toThrowError(expect.objectContaining({ code: 'NOT_FOUND' }));
  });

  it('a crashed job requeued at the front runs next; finished jobs keep their outcome', () => {
    const s = open();
    const a = s.insert(recipe('a'), 1, T);
    s.insert(recipe('b'), 1, T);
    s.claimNext(T);
    s.requeue(a.id, 'front');
    const again = s.claimNext(T)!;
    expect(again).toMatchObject({ id: a.id, attempts: 2 });
    const done = s.finish(a.id, 'done', { imageIds: ['img1'] }, T);
    expect(done).toMatchObject({ status: 'done', imageIds: ['img1'], finishedAt: T });
    const failed = s.finish(s.claimNext(T)!.id, 'failed', { error: { code: 'E_IO', message: 'x' } }, T);
    expect(failed.error).toEqual({ code: 'E_IO', message: 'x' });
  });

  it('lists the running job, then queued in order, then finished', () => {
    const s = open();
    const [a, , c] = ['a', 'b', 'c'].map((p) => s.insert(recipe(p), 1, T));
    s.claimNext(T);
    s.finish(a!.id, 'done', {}, T);
    s.claimNext(T);
    expect(s.list().map((j) => [j.recipe.prompt, j.status])).toEqual([
      ['b', 'running'],
      ['c', 'queued'],
      ['a', 'done'],
    ]);
    expect(s.list({ limit: 1 })).toHaveLength(1);
    expect(s.get(c!.id)?.status).toBe('queued');
  });

  it('records the seed chosen at start', () => {
    const s = open();
    const a = s.insert(recipe('a'), 1, T);
    s.setSeed(a.id, '18446744073709551615');
    expect(s.get(a.id)!.recipe.seed).toBe('18446744073709551615');
  });

  // Only a persistent store has a restart to survive; the in-memory one defines no such case.
  if (fixture.persistent) it('survives a restart: queue, order, pause, and a running job is queued again', () => {
    const folder = temp();
    const first = fixture.open(folder);
    const [a, b, c] = ['a', 'b', 'c'].map((p) => first.store.insert(recipe(p), 2, T));
    first.store.move(c!.id, b!.id);
    first.store.claimNext(T); // a is running when the studio dies
    first.store.setPaused(true);
    first.close();
    const second = fixture.open(folder);
    expect(second.store.paused()).toBe(true);
    expect(second.store.requeueInterrupted()).toBe(1);
    expect(second.store.list({ statuses: ['queued'] }).map((j) => j.id)).toEqual([a!.id, c!.id, b!.id]);
    expect(second.store.get(a!.id)).toMatchObject({ count: 2, attempts: 1 });
    second.close();
  });
});
