// A stand-in engine process speaking the host protocol (main/engine-host/protocol.ts) without the
// native addon: each sampling step takes DIMBA_FAKE_STEP_MS, cancel stops at the next step like the
// real pipeline, previews follow the one-credit rule, and the same fault hooks exist. Prompts
// starting with "fail:" fail with that code; "malformed" sends a message outside the protocol;
// "crash:segfault" segfaults after the first step (with faults enabled). Inspections answer
// E_ADDON_MISSING, or crash for a path containing "crash".
const stepMs = Number(process.env.DIMBA_FAKE_STEP_MS ?? '5');
let model;
let running;
let credit = true;
// Electron's utilityProcess gives the child process.parentPort; node's fork gives process.send.
const parentPort = process.parentPort;
const post = (m) => (parentPort ? parentPort.postMessage(m) : process.send(m));
const onHostMessage = (listener) =>
  parentPort ? parentPort.on('message', (event) => listener(event.data)) : process.on('message', listener);

function generate(jobId, recipe) {
  if (!model) return post({ type: 'failed', jobId, code: 'E_INVALID_ARGUMENT', message: 'no model is loaded' });
  if (recipe.prompt.startsWith('fail:')) return post({ type: 'failed', jobId, code: recipe.prompt.slice(5), message: 'asked to fail' });
  if (recipe.prompt === 'malformed') return post({ type: 'done', jobId });
  // "crash:<fault>" crashes after the first step, for callers that cannot reach injectFault.
  const crashAfterStep = recipe.prompt.startsWith('crash:') && process.env.DIMBA_ENGINE_FAULTS === '1' ? recipe.prompt.slice(6) : null;
  const steps = recipe.steps ?? 4;
  const w = recipe.width ?? 8;
  const h = recipe.height ?? 8;
  let image = 0;
  let step = 0;
  const images = [];
  credit = true;
  running = { jobId, cancelled: false };
  const job = running;
  const tick = () => {
    if (job.cancelled) {
      running = undefined;
      return post({ type: 'failed', jobId, code: 'E_CANCELLED', message: 'cancelled' });
    }
    step++;
    post({ type: 'progress', jobId, stage: 'sampling', image, count: recipe.count, step, steps });
    if (crashAfterStep === 'segfault') return process.kill(process.pid, 'SIGSEGV');
    if (recipe.previewEvery > 0 && step % recipe.previewEvery === 0 && credit) {
      credit = false;
      post({ type: 'preview', jobId, image, step, width: 2, height: 2, rgb: new Uint8Array(12).fill(step) });
    }
    if (step === steps) {
      images.push({ seed: String(BigInt(recipe.seed) + BigInt(image)), width: w, height: h, rgb: new Uint8Array(w * h * 3).fill(image) });
      image++;
      step = 0;
      if (image === recipe.count) {
        running = undefined;
        return post({ type: 'done', jobId, images, times: { text: 0, sampling: 0, decode: 0 } });
      }
    }
    setTimeout(tick, stepMs);
  };
  setTimeout(tick, stepMs);
}

onHostMessage((m) => {
  switch (m.type) {
    case 'load':
      if (m.manifest.includes('missing')) return post({ type: 'loadFailed', manifest: m.manifest, code: 'E_IO', message: 'no such file' });
      model = m.manifest;
      return post({
        type: 'loaded',
        manifest: m.manifest,
        model: {
          id: 'fake', name: 'Fake', manifestHash: 'fnv1a64:0', tokenizerHash: 't', t5WeightsId: 't5', weights: m.weights,
          sizeMultiple: 8, defaults: { steps: 4, guidance: 4.5, sampler: 'dpm++2m', width: 8, height: 8 },
          // Where the host asked the model to run (an engine with backend selection reports it).
          ...(process.env.DIMBA_FAKE_BACKENDS ? { backend: m.backend, backendReason: `asked for ${m.backend}` } : {}),
        },
      });
    case 'unload':
      model = undefined;
      return post({ type: 'unloaded' });
    case 'generate':
      return generate(m.jobId, m.recipe);
    case 'cancel':
      if (running?.jobId === m.jobId) running.cancelled = true;
      return;
    case 'previewAck':
      credit = true;
      return;
    case 'inspect':
      // A file named "crash" crashes the stand-in like a hostile file could crash the engine.
      if (m.path.includes('crash') && process.env.DIMBA_ENGINE_FAULTS === '1') return process.kill(process.pid, 'SIGSEGV');
      // The stand-in has no inspector: it answers like an engine without its addon.
      return post({ type: 'inspectFailed', requestId: m.requestId, code: 'E_ADDON_MISSING', message: 'the stand-in engine has no inspector' });
    case 'fault':
      if (process.env.DIMBA_ENGINE_FAULTS !== '1') return;
      if (m.fault === 'abort') process.abort();
      if (m.fault === 'segfault') process.kill(process.pid, 'SIGSEGV');
      if (m.fault === 'oom') process.kill(process.pid, 'SIGKILL');
      if (m.fault === 'exit') process.exit(70);
      if (m.fault === 'hang') for (;;);
  }
});
process.on('disconnect', () => process.exit(0));
// DIMBA_FAKE_BACKENDS: the probes to report (JSON), as an engine with backend selection does.
const backends = process.env.DIMBA_FAKE_BACKENDS ? JSON.parse(process.env.DIMBA_FAKE_BACKENDS) : [{ name: 'cpu', available: true, detail: 'fake' }];
post({ type: 'ready', pid: process.pid, backends });
