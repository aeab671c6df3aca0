// Validates a call against the contract, runs its handler and turns every outcome into a reply.
// Nothing a caller sends can make it throw: bad input becomes a typed error.
import {
  ApiError,
  isMethodName,
  methods,
  type MethodName,
  type Reply,
} from '../api/index.js';
import type { Handler, Handlers } from './handlers.js';

export type Logger = (message: string, error?: unknown) => void;

export interface Dispatcher {
  dispatch(method: unknown, params: unknown): Promise<Reply>;
}

function describeIssues(error: { issues: readonly { path: PropertyKey[]; message: string }[] }): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => (issue.path.length > 0 ? `${issue.path.map(String).join('.')}: ${issue.message}` : issue.message))
    .join('; ');
}

export function createDispatcher(handlers: Handlers, log: Logger = () => {}): Dispatcher {
  async function run<M extends MethodName>(method: M, rawParams: unknown): Promise<Reply> {
    const spec = methods[method];
    const parsed = spec.params.safeParse(rawParams);
    if (!parsed.success) {
      return { ok: false, error: { code: 'INVALID_PARAMS', message: `${method}: ${describeIssues(parsed.error)}` } };
    }
    const handler = handlers[method] as Handler<M>;
    const result: unknown = await handler(parsed.data as Parameters<Handler<M>>[0]);
    // The result is checked too, so a handler bug shows up here rather than in the renderer.
    const checked = spec.result.safeParse(result);
    if (!checked.success) {
      log(`${method}: handler returned a result that breaks the contract: ${describeIssues(checked.error)}`);
      return { ok: false, error: { code: 'INTERNAL', message: `${method}: internal error` } };
    }
    return { ok: true, result: checked.data } as Reply;
  }

  return {
    async dispatch(method, params) {
      if (!isMethodName(method)) {
        const name = typeof method === 'string' ? method : typeof method;
        return { ok: false, error: { code: 'UNKNOWN_METHOD', message: `unknown method: ${name}` } };
      }
      try {
        return await run(method, params);
      } catch (error) {
        if (error instanceof ApiError) return { ok: false, error: error.toShape() };
        log(`${method} failed`, error);
        return { ok: false, error: { code: 'INTERNAL', message: `${method}: internal error` } };
      }
    },
  };
}
