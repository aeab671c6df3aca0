import { describe, expect, it } from 'vitest';
import { ApiError, DEFAULT_SETTINGS, METHOD_NAMES, methods, type Settings } from '../../../main/api/index.js';
import { createDispatcher } from '../../../main/rpc/dispatcher.js';
import { createHandlers, type Handlers } from '../../../main/rpc/handlers.js';
import { createServices } from '../../../main/services/index.js';
import { useTempFolders } from '../support/temp.js';

const tempFolder = useTempFolders();

function realDispatcher(logs: string[] = []) {
  const services = createServices({ userDataFolder: tempFolder(), mode: 'browser', version: '9.9.9', emit: () => {} });
  return createDispatcher(createHandlers(services), (m) => logs.push(m));
}

function handlersWith(overrides: Partial<Handlers>): Handlers {
  const base = createHandlers(
    createServices({ userDataFolder: tempFolder(), mode: 'browser', version: '1.0.0', emit: () => {} }),
  );
  return { ...base, ...overrides };
}

describe('dispatcher: valid calls', () => {
  it('answers every method of the contract', async () => {
    const dispatcher = realDispatcher();
    for (const method of METHOD_NAMES) {
      // Methods that need arguments must refuse an empty call with a typed error, not crash.
      const needsParams = !methods[method].params.safeParse({}).success;
      const reply = await dispatcher.dispatch(method, {});
      expect(reply, method).toMatchObject(needsParams ? { ok: false, error: { code: 'INVALID_PARAMS' } } : { ok: true });
    }
  });

  it('returns the settings after an update', async () => {
    const reply = await realDispatcher().dispatch('settings.update', { theme: 'dark' });
    expect(reply).toEqual({ ok: true, result: { ...DEFAULT_SETTINGS, theme: 'dark' } });
  });

  it('reports the version and mode it was built with', async () => {
    const reply = await realDispatcher().dispatch('app.info', {});
    expect(reply).toMatchObject({ ok: true, result: { version: '9.9.9', mode: 'browser', name: 'Dimba Studio' } });
  });
});

describe('dispatcher: malformed calls get typed errors', () => {
  it.each([
    ['a number as method', 42],
    ['an unknown method', 'settings.delete'],
    ['a prototype key', 'constructor'],
    ['nothing', undefined],
  ])('UNKNOWN_METHOD for %s', async (_label, method) => {
    const reply = await realDispatcher().dispatch(method, {});
    expect(reply).toMatchObject({ ok: false, error: { code: 'UNKNOWN_METHOD' } });
  });

  it.each([
    ['a wrong type', { defaultSteps: 'many' }],
    ['a value out of range', { defaultSteps: 1000 }],
    ['a fraction where an integer is needed', { defaultSteps: 2.5 }],
    ['an unknown key', { colour: 'red' }],
    ['an enum value not in the list', { backend: 'quantum' }],
    ['an array instead of an object', [1, 2]],
    ['a string instead of an object', 'dark'],
  ])('INVALID_PARAMS for %s, naming the problem', async (_label, params) => {
    const reply = await realDispatcher().dispatch('settings.update', params);
    expect(reply.ok).toBe(false);
    if (reply.ok) return;
    expect(reply.error.code).toBe('INVALID_PARAMS');
    expect(reply.error.message).toMatch(/^settings\.update: /);
  });

  it('INVALID_PARAMS when a method that takes nothing is given something', async () => {
    const reply = await realDispatcher().dispatch('settings.get', { all: true });
    expect(reply).toMatchObject({ ok: false, error: { code: 'INVALID_PARAMS' } });
  });

  it('does not store anything from a rejected call', async () => {
    const dispatcher = realDispatcher();
    await dispatcher.dispatch('settings.update', { theme: 'dark', defaultSteps: -1 });
    expect(await dispatcher.dispatch('settings.get', undefined)).toEqual({ ok: true, result: DEFAULT_SETTINGS });
  });
});

describe('dispatcher: failing handlers', () => {
  it('turns a thrown bug into INTERNAL without leaking its message, and logs it', async () => {
    const logs: string[] = [];
    const dispatcher = createDispatcher(
      handlersWith({
        'settings.get': () => {
          throw new Error('disk on fire at /secret/path');
        },
      }),
      (m) => logs.push(m),
    );
    const reply = await dispatcher.dispatch('settings.get', undefined);
    expect(reply).toEqual({ ok: false, error: { code: 'INTERNAL', message: 'settings.get: internal error' } });
    expect(logs).toEqual(['settings.get failed']);
  });

  it('passes an ApiError through with its code', async () => {
    const dispatcher = createDispatcher(
      handlersWith({
        'settings.reset': () => Promise.reject(new ApiError('NOT_IMPLEMENTED', 'not yet')),
      }),
    );
    expect(await dispatcher.dispatch('settings.reset', undefined)).toEqual({
      ok: false,
      error: { code: 'NOT_IMPLEMENTED', message: 'not yet' },
    });
  });

  it('refuses a handler result that breaks the contract', async () => {
    const logs: string[] = [];
    const broken = { ...DEFAULT_SETTINGS, defaultSteps: -5 } as Settings;
    const dispatcher = createDispatcher(handlersWith({ 'settings.get': () => broken }), (m) => logs.push(m));
    expect(await dispatcher.dispatch('settings.get', undefined)).toMatchObject({ ok: false, error: { code: 'INTERNAL' } });
    expect(logs[0]).toMatch(/breaks the contract/);
  });
});
