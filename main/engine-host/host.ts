// The engine host: owns one engine process, runs one job at a time on it, and survives its
// crashes. A crash (abort, segfault, OOM kill, malformed message) fails only what was in flight
// with ENGINE_CRASHED and the reason; the next request starts a fresh process and loads the
// model again. A cancel that the engine does not honour within `cancelGraceMs` kills the process,
// so a cancel always ends the job. Models load one at a time within a memory budget.
import { totalmem } from 'node:os';
import type { EngineChannel, SpawnEngine } from './channel.js';
import { estimateModelBytes } from './model-size.js';
import { describeExit } from './channel.js';
import { EngineHostError } from './errors.js';
import { engineMessageSchema, type EngineMessage, type EngineRecipe, type Fault, type Inspection, type ModelInfo } from './protocol.js';
import { selectBackend, type BackendChoice, type BackendProbe, type BackendSetting } from './backend.js';
import type { TuneEventMessage, TuneResultMessage, TuneSpec } from './tuning-protocol.js';

export type ProgressMessage = Extract<EngineMessage, { type: 'progress' }>;
export type PreviewMessage = Extract<EngineMessage, { type: 'preview' }>;
export type DoneMessage = Extract<EngineMessage, { type: 'done' }>;

export interface RunCallbacks {
  onProgress?: (progress: ProgressMessage) => void;
  /** Called for at most one preview at a time: the engine drops previews until this returns. */
  onPreview?: (preview: PreviewMessage) => void;
  /** Events of a tuning run (tune()). */
  onTuneEvent?: (event: TuneEventMessage) => void;
}

export interface EngineHostOptions {
  spawn: SpawnEngine;
  /** Environment for the engine process (faults are enabled only through it). */
  env?: Record<string, string>;
  /** Bytes a model may take; a larger one fails with MEMORY_BUDGET before loading (default: 80% of RAM). */
  memoryBudgetBytes?: number;
  /** Estimated resident bytes of a model (default: its weight files); undefined: let the engine try. */
  estimateModelBytes?: (manifest: string) => number | undefined;
  /** How long a cancelled job may keep running before the process is killed. */
  cancelGraceMs?: number;
  /** How long a fresh process may take to say it is ready. */
  startTimeoutMs?: number;
  /** The user's backend setting, read each time a process starts (default auto). */
  backendSetting?: () => BackendSetting;
  log?: (message: string) => void;
}

interface Pending {
  kind: 'load' | 'run';
  jobId?: string;
  resolve: (value: EngineMessage) => void;
  reject: (error: EngineHostError) => void;
  callbacks?: RunCallbacks;
}

interface Live {
  channel: EngineChannel;
  ready: Promise<BackendProbe[]>;
  model?: { manifest: string; weights: 'bf16' | 'f32'; adapter?: string; info: ModelInfo };
  /** Inspections in flight: they run beside a job (headers only, off the engine's job thread). */
  inspections: Map<number, { resolve: (i: Inspection) => void; reject: (e: EngineHostError) => void }>;
}

export class EngineHost {
  private live: Live | undefined;
  private pending: Pending | undefined;
  private cancelTimer: NodeJS.Timeout | undefined;
  private inspections = 0;
  private stopped = false;
  /** Processes started so far; more than one means it was restarted. */
  starts = 0;
  crashes = 0;
  /** The backend the running process was started under, with what it found and why. */
  backend: BackendChoice | undefined;

  constructor(private readonly options: EngineHostOptions) {}

  get pid(): number | undefined {
    return this.live?.channel.pid;
  }

  get loadedModel(): ModelInfo | undefined {
    return this.live?.model?.info;
  }

  /** Starts the engine process if none runs; resolves with the backends it reports. */
  start(): Promise<BackendProbe[]> {
    if (this.stopped) return Promise.reject(new EngineHostError('ENGINE_UNAVAILABLE', 'the engine host was stopped'));
    if (this.live) return this.live.ready;
    const channel = this.options.spawn({ env: this.options.env });
    this.starts++;
    let readyResolve!: (b: BackendProbe[]) => void;
    let readyReject!: (e: EngineHostError) => void;
    const ready = new Promise<BackendProbe[]>((res, rej) => {
      readyResolve = res;
      readyReject = rej;
    });
    ready.catch(() => undefined);
    const live: Live = { channel, ready, inspections: new Map() };
    this.live = live;
    const timer = setTimeout(() => {
      readyReject(new EngineHostError('ENGINE_UNAVAILABLE', 'the engine process did not start in time'));
      channel.kill();
    }, this.options.startTimeoutMs ?? 30_000);
    channel.onMessage((raw) => {
      const parsed = engineMessageSchema.safeParse(raw);
      if (!parsed.success) {
        this.options.log?.(`engine: malformed message, restarting: ${parsed.error.message.slice(0, 200)}`);
        this.failLive(live, new EngineHostError('ENGINE_PROTOCOL', 'the engine process sent a malformed message'));
        channel.kill();
        return;
      }
      const m = parsed.data;
      if (m.type === 'ready') {
        clearTimeout(timer);
        this.backend = selectBackend(this.options.backendSetting?.() ?? 'auto', m.backends);
        this.options.log?.(`engine: process ${m.pid} ready; backend ${this.backend.backend}: ${this.backend.reason}`);
        readyResolve(m.backends);
        return;
      }
      this.onEngineMessage(m);
    });
    channel.onExit((info) => {
      clearTimeout(timer);
      const reason = describeExit(info);
      readyReject(new EngineHostError('ENGINE_UNAVAILABLE', reason));
      if (this.pending) this.crashes++;
      this.failLive(live, new EngineHostError('ENGINE_CRASHED', reason));
      this.options.log?.(`engine: ${reason}`);
    });
    return ready;
  }

  /** What the engine process found and which backend the setting leads to, with the reason. */
  async chooseBackend(setting: BackendSetting): Promise<BackendChoice> {
    try {
      return selectBackend(setting, await this.start());
    } catch (error) {
      // No engine process: nothing can run, but the answer still says what and why.
      const why = error instanceof Error ? error.message : String(error);
      const choice = selectBackend(setting, []);
      return { ...choice, reason: `the engine process is unavailable (${why}); ${choice.reason}` };
    }
  }

  /** Loads a model unless it is the one loaded; another model is unloaded first (one resident). */
  async ensureModel(
    manifest: string,
    weights: 'bf16' | 'f32' = 'bf16',
    adapter?: { path: string; strength: number },
  ): Promise<ModelInfo> {
    await this.start();
    const live = this.live!;
    // The same base with another variant (or strength) is another model: its weights differ.
    const adapterKey = adapter ? `${adapter.path}@${adapter.strength}` : undefined;
    if (live.model && live.model.manifest === manifest && live.model.weights === weights && live.model.adapter === adapterKey) {
      return live.model.info;
    }
    // The budget leaves the rest of the machine room: the studio, the browser, the OS cache.
    const budget = this.options.memoryBudgetBytes ?? Math.floor(totalmem() * 0.8);
    const estimate = (this.options.estimateModelBytes ?? estimateModelBytes)(manifest);
    if (budget !== undefined && estimate !== undefined && estimate > budget) {
      throw new EngineHostError(
        'MEMORY_BUDGET',
        `the model needs about ${gib(estimate)} GiB, more than the memory budget of ${gib(budget)} GiB`,
      );
    }
    if (live.model) this.unload();
    const backend = this.backend?.backend ?? 'cpu';
    const reply = await this.request({ kind: 'load' }, { type: 'load', manifest, weights, backend, ...(adapter ? { adapter } : {}) });
    if (reply.type === 'loadFailed') throw new EngineHostError(asCode(reply.code), reply.message);
    if (reply.type !== 'loaded') throw new EngineHostError('ENGINE_PROTOCOL', `unexpected ${reply.type} for load`);
    live.model = { manifest, weights, ...(adapterKey ? { adapter: adapterKey } : {}), info: reply.model };
    const ran = reply.model.backend;
    if (this.backend && ran && ran !== this.backend.backend && (ran === 'cpu' || ran === 'vulkan' || ran === 'cuda')) {
      // The engine knows best where the model actually runs.
      this.backend = { ...this.backend, backend: ran, reason: reply.model.backendReason ?? `the engine loaded the model on ${ran}` };
      this.options.log?.(`engine: the model runs on ${ran}: ${this.backend.reason}`);
    }
    return reply.model;
  }

  /** Frees the loaded model's memory (the process stays up). */
  unload(): void {
    if (!this.live?.model) return;
    this.live.channel.send({ type: 'unload' });
    this.live.model = undefined;
  }

  /** Runs one generation on the loaded model; rejects with the engine's code or ENGINE_CRASHED. */
  async run(jobId: string, recipe: EngineRecipe, callbacks: RunCallbacks = {}): Promise<DoneMessage> {
    if (!this.live?.model) throw new EngineHostError('ENGINE_UNAVAILABLE', 'no model is loaded');
    const reply = await this.request({ kind: 'run', jobId, callbacks }, { type: 'generate', jobId, recipe });
    if (reply.type !== 'done') throw new EngineHostError('ENGINE_PROTOCOL', `unexpected ${reply.type} for generate`);
    return reply;
  }

  /** Runs a quality-tuning run (no model needs to be loaded: the run loads its own); rejects with
   *  the engine's code (E_INVALID_ARGUMENT for bad images) or ENGINE_CRASHED. */
  async tune(jobId: string, spec: TuneSpec, onEvent?: (event: TuneEventMessage) => void): Promise<TuneResultMessage> {
    await this.start();
    if (!this.live) throw new EngineHostError('ENGINE_UNAVAILABLE', 'the engine process ended before the run started');
    const reply = await this.request({ kind: 'run', jobId, callbacks: { onTuneEvent: onEvent } }, { type: 'tune', jobId, spec });
    if (reply.type !== 'tuned') throw new EngineHostError('ENGINE_PROTOCOL', `unexpected ${reply.type} for tune`);
    return reply.result;
  }

  /** Asks the engine to stop the job before its next model call; kills the process past the grace. */
  cancel(jobId: string): void {
    const live = this.live;
    if (!live || this.pending?.jobId !== jobId) return;
    live.channel.send({ type: 'cancel', jobId });
    clearTimeout(this.cancelTimer);
    this.cancelTimer = setTimeout(() => {
      if (this.pending?.jobId !== jobId || this.live !== live) return;
      this.options.log?.(`engine: cancel of ${jobId} not honoured in time; killing the engine process`);
      this.failLive(live, new EngineHostError('E_CANCELLED', 'cancelled (the engine was stopped)'));
      live.channel.kill();
    }, this.options.cancelGraceMs ?? 10_000);
  }

  /**
   * The engine's inspector on a checkpoint file or folder, run in the engine process so that a
   * hostile file can crash only that process (it fails with ENGINE_CRASHED, and so does a job
   * running beside it). Engine errors (E_BAD_FILE, E_UNSUPPORTED_FORMAT, ...) keep their code.
   */
  async inspect(file: string, options: { config?: string } = {}): Promise<Inspection> {
    await this.start();
    const live = this.live;
    // The process may have ended between its ready message and this line.
    if (!live) throw new EngineHostError('ENGINE_UNAVAILABLE', 'the engine process ended before the inspection started');
    const requestId = ++this.inspections;
    return new Promise<Inspection>((resolve, reject) => {
      live.inspections.set(requestId, { resolve, reject });
      live.channel.send({ type: 'inspect', requestId, path: file, ...(options.config ? { config: options.config } : {}) });
    });
  }

  /** Test hook: makes the engine process crash in the given way (needs DIMBA_ENGINE_FAULTS=1). */
  injectFault(fault: Fault): void {
    this.live?.channel.send({ type: 'fault', fault });
  }

  /** Ends the engine process; whatever was in flight fails with ENGINE_UNAVAILABLE. */
  stop(): void {
    this.stopped = true;
    const live = this.live;
    if (!live) return;
    this.failLive(live, new EngineHostError('ENGINE_UNAVAILABLE', 'the engine host was stopped'));
    live.channel.kill();
  }

  private request(p: Omit<Pending, 'resolve' | 'reject'>, message: Parameters<EngineChannel['send']>[0]): Promise<EngineMessage> {
    if (this.pending) return Promise.reject(new EngineHostError('ENGINE_UNAVAILABLE', 'the engine is busy'));
    const live = this.live!;
    return new Promise<EngineMessage>((resolve, reject) => {
      this.pending = { ...p, resolve, reject };
      live.channel.send(message);
    });
  }

  private settle(): Pending | undefined {
    const p = this.pending;
    this.pending = undefined;
    clearTimeout(this.cancelTimer);
    return p;
  }

  /** The process is gone (or about to be): forget it and fail what was in flight. */
  private failLive(live: Live, error: EngineHostError): void {
    if (this.live !== live) return;
    this.live = undefined;
    this.settle()?.reject(error);
    for (const inspection of live.inspections.values()) inspection.reject(error);
    live.inspections.clear();
  }

  private onEngineMessage(m: EngineMessage): void {
    const p = this.pending;
    switch (m.type) {
      case 'progress':
        if (p?.jobId === m.jobId) p.callbacks?.onProgress?.(m);
        return;
      case 'preview':
        if (p?.jobId === m.jobId) {
          try {
            p.callbacks?.onPreview?.(m);
          } finally {
            // One credit: the engine sends the next preview only after this ack.
            this.live?.channel.send({ type: 'previewAck', jobId: m.jobId });
          }
        }
        return;
      case 'loaded':
      case 'loadFailed':
        if (p?.kind === 'load') this.settle()!.resolve(m);
        return;
      case 'done':
      case 'tuned':
        if (p?.jobId === m.jobId) this.settle()!.resolve(m);
        return;
      case 'tuneEvent':
        if (p?.jobId === m.jobId) p.callbacks?.onTuneEvent?.(m.event);
        return;
      case 'failed':
        if (p?.jobId === m.jobId) this.settle()!.reject(new EngineHostError(asCode(m.code), m.message));
        return;
      case 'inspected':
      case 'inspectFailed': {
        const inspections = this.live?.inspections;
        const waiting = inspections?.get(m.requestId);
        if (!waiting) return;
        inspections!.delete(m.requestId);
        if (m.type === 'inspected') waiting.resolve(m.inspection);
        else waiting.reject(new EngineHostError(asCode(m.code), m.message));
        return;
      }
      case 'unloaded':
      case 'ready':
        return;
    }
  }
}

function asCode(code: string): EngineHostError['code'] {
  return code.startsWith('E_') ? (code as `E_${string}`) : 'E_INTERNAL';
}

function gib(bytes: number): string {
  return (bytes / 2 ** 30).toFixed(1);
}
