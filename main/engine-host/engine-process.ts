// The engine process's entry: loads the native addon, holds at most one model, runs one job at a
// time, and answers the host over IPC (node's process.send, or Electron's parentPort). It trusts
// the host (its parent) but still checks message shapes, and turns every engine error into a
// `failed` message with the engine's code: only a real crash ends this process.
import {
  generate,
  inspectCheckpoint,
  loadPipeline,
  NativeEngineError,
  probeBackends,
  releasePipeline,
  type GenerateJob,
  type PipelineHandle,
} from '../engine/addon.js';
import type { BackendProbe } from './backend.js';
import { FAULTS, type EngineMessage, type EngineRecipe, type Fault, type HostMessage } from './protocol.js';
import { runTuning } from './tuning-run.js';
import { loadVariantPipeline } from '../engine/tuning.js';
import type { TuneSpec } from './tuning-protocol.js';

interface ParentPort {
  on(event: 'message', listener: (event: { data: unknown }) => void): void;
  postMessage(message: unknown): void;
}

const parentPort = (process as unknown as { parentPort?: ParentPort }).parentPort;

function post(message: EngineMessage): void {
  if (parentPort) parentPort.postMessage(message);
  else process.send?.(message);
}

const faultsEnabled = process.env.DIMBA_ENGINE_FAULTS === '1';
let model: { manifest: string; handle: PipelineHandle } | undefined;
let running: { jobId: string; job: Pick<GenerateJob, 'cancel'> } | undefined;
/** One preview may be in flight to the host; later ones are dropped until it acks (back-pressure). */
let previewCredit = true;

function codeOf(error: unknown): string {
  if (error instanceof NativeEngineError) return error.code;
  return 'E_INTERNAL';
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function load(
  manifest: string,
  weights: 'bf16' | 'f32',
  backend: 'cpu' | 'vulkan' | 'cuda',
  adapter?: { path: string; strength: number },
): Promise<void> {
  if (model) {
    releasePipeline(model.handle);
    model = undefined;
  }
  try {
    const handle = adapter ? await loadVariantPipeline(manifest, { weights, backend, adapter }) : await loadPipeline(manifest, { weights, backend });
    model = { manifest, handle };
    post({
      type: 'loaded',
      manifest,
      model: {
        id: handle.id,
        name: handle.name,
        manifestHash: handle.manifestHash,
        tokenizerHash: handle.tokenizerHash,
        t5WeightsId: handle.t5WeightsId,
        weights: handle.weights,
        sizeMultiple: handle.sizeMultiple,
        defaults: handle.defaults,
        ...(handle.backend !== undefined ? { backend: handle.backend } : {}),
        ...(handle.backendReason !== undefined ? { backendReason: handle.backendReason } : {}),
      },
    });
  } catch (error) {
    post({ type: 'loadFailed', manifest, code: codeOf(error), message: messageOf(error) });
  }
}

async function run(jobId: string, recipe: EngineRecipe): Promise<void> {
  if (!model) {
    post({ type: 'failed', jobId, code: 'E_INVALID_ARGUMENT', message: 'no model is loaded' });
    return;
  }
  if (running) {
    post({ type: 'failed', jobId, code: 'E_INTERNAL', message: 'the engine is busy with another job' });
    return;
  }
  const seed = BigInt(recipe.seed);
  const { count, previewEvery, ...rest } = recipe;
  previewCredit = true;
  const job = generate(
    model.handle,
    { ...rest, seed: seed <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(seed) : seed, count, previewEvery },
    {
      onProgress: (p) => {
        post({ type: 'progress', jobId, stage: p.stage, image: p.image, count: p.count, step: p.step, steps: p.steps });
        if (p.preview && previewCredit) {
          previewCredit = false;
          const { width, height, rgb } = p.preview;
          post({ type: 'preview', jobId, image: p.image, step: p.step, width, height, rgb: new Uint8Array(rgb) });
        }
      },
    },
  );
  running = { jobId, job };
  try {
    const result = await job.result;
    post({
      type: 'done',
      jobId,
      images: result.images.map((im) => ({ seed: String(im.seed), width: im.width, height: im.height, rgb: new Uint8Array(im.rgb) })),
      times: result.times,
    });
  } catch (error) {
    post({ type: 'failed', jobId, code: codeOf(error), message: messageOf(error) });
  } finally {
    running = undefined;
  }
}

async function runTune(jobId: string, spec: TuneSpec): Promise<void> {
  if (running) {
    post({ type: 'failed', jobId, code: 'E_INTERNAL', message: 'the engine is busy with another job' });
    return;
  }
  let cancelled = false;
  // Until the addon's job exists (images decoding), a cancel is remembered here.
  running = { jobId, job: { cancel: () => (cancelled = true) } };
  try {
    await runTuning(jobId, spec, post, (job) => {
      running = { jobId, job };
      if (cancelled) job.cancel();
    });
  } catch (error) {
    post({ type: 'failed', jobId, code: codeOf(error), message: messageOf(error) });
  } finally {
    running = undefined;
  }
}

async function inspect(requestId: number, file: string, config: string | undefined): Promise<void> {
  try {
    const inspection = await inspectCheckpoint(file, config ? { config } : {});
    post({ type: 'inspected', requestId, inspection });
  } catch (error) {
    post({ type: 'inspectFailed', requestId, code: codeOf(error), message: messageOf(error) });
  }
}

/** Deliberate crashes for the host's fault-injection tests; ignored unless enabled. */
function crash(fault: Fault): void {
  if (!faultsEnabled) return;
  switch (fault) {
    case 'abort':
      process.abort();
      break;
    case 'segfault':
      // A real memory fault, as native code would make it: SIGSEGV with the default handler.
      process.kill(process.pid, 'SIGSEGV');
      break;
    case 'oom':
      // What the kernel's OOM killer does.
      process.kill(process.pid, 'SIGKILL');
      break;
    case 'exit':
      process.exit(70);
      break;
    case 'hang':
      for (;;) {
        // Busy forever: the host's cancel grace must kill it.
      }
  }
}

function onMessage(raw: unknown): void {
  if (typeof raw !== 'object' || raw === null || !('type' in raw)) return;
  const m = raw as HostMessage;
  switch (m.type) {
    case 'load':
      void load(m.manifest, m.weights, m.backend, m.adapter);
      return;
    case 'unload':
      if (model) releasePipeline(model.handle);
      model = undefined;
      post({ type: 'unloaded' });
      return;
    case 'generate':
      void run(m.jobId, m.recipe);
      return;
    case 'tune':
      void runTune(m.jobId, m.spec);
      return;
    case 'cancel':
      if (running?.jobId === m.jobId) running.job.cancel();
      return;
    case 'previewAck':
      previewCredit = true;
      return;
    case 'inspect':
      void inspect(m.requestId, m.path, m.config);
      return;
    case 'fault':
      if ((FAULTS as readonly string[]).includes(m.fault)) crash(m.fault);
      return;
  }
}

if (parentPort) parentPort.on('message', (event) => onMessage(event.data));
else process.on('message', onMessage);
// The host is our only reason to live: when it goes, so do we.
process.on('disconnect', () => process.exit(0));

/** What this engine build and machine offer; builds without backend selection run on the CPU only. */
function backends(): BackendProbe[] {
  const cpuOnly = (why: string): BackendProbe[] => [
    { name: 'cpu', available: true, preferred: true, detail: 'the reference backend' },
    { name: 'vulkan', available: false, detail: why },
    { name: 'cuda', available: false, detail: why },
  ];
  try {
    return probeBackends() ?? cpuOnly('not in this engine build (no backend selection)');
  } catch (error) {
    // No addon: nothing will load, and the load says why; the probes say it too.
    return cpuOnly(`the engine could not be probed (${messageOf(error)})`);
  }
}

post({ type: 'ready', pid: process.pid, backends: backends() });
