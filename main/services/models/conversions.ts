// One-time conversions of registered models. Today: a Dimba checkpoint in torch.save format
// (.pt / .pth / .bin / .ckpt) into safetensors, which the engine maps instead of copying out of
// a zip. The result lands in the model's own registry folder (`<models>/<id>/<stem>.safetensors`;
// a user's files are never written to), then the model's manifest points at it in place of the
// original, so the pipeline and the status check use the converted file. Progress is reported
// as it runs; a cancel or a failure leaves the model as it was.
import path from 'node:path';
import { stat } from 'node:fs/promises';
import { ApiError } from '../../api/errors.js';
import type { Conversion, Model } from '../../api/models.js';
import { ConvertError } from './convert/errors.js';
import { convertPtToSafetensors } from './convert/pt-to-safetensors.js';
import { modelLocation } from './pipeline.js';
import type { ModelRegistry } from './registry.js';

const TORCH_FILE = /\.(pt|pth|bin|ckpt)$/;

export interface ConversionManagerOptions {
  registry: ModelRegistry;
  onProgress?: (conversion: Conversion) => void;
  /** Minimum interval between progress reports; default 250 ms. */
  progressIntervalMs?: number;
}

interface Running {
  state: Conversion;
  controller: AbortController;
  done: Promise<void>;
}

export class ConversionManager {
  private readonly running = new Map<string, Running>();

  constructor(private readonly options: ConversionManagerOptions) {}

  /** Starts converting a model; a conversion already running is returned as it is. */
  async start(id: string): Promise<Conversion> {
    const current = this.running.get(id);
    if (current?.state.state === 'running') return { ...current.state };
    const model = await this.options.registry.get(id);
    if (!model) throw new ApiError('NOT_FOUND', `no registered model ${id}`);
    const src = modelLocation(model, this.options.registry.folder);
    if (model.kind !== 'dimba' || !TORCH_FILE.test(src)) {
      throw new ApiError('CONFLICT', `${model.name} has no PyTorch checkpoint to convert (its weights are ${path.basename(src)})`);
    }
    const state: Conversion = { modelId: id, state: 'running', doneBytes: 0, totalBytes: null, error: null };
    const record: Running = { state, controller: new AbortController(), done: Promise.resolve() };
    this.running.set(id, record);
    record.done = this.run(model, src, record);
    return { ...state };
  }

  cancel(id: string): boolean {
    const record = this.running.get(id);
    if (!record || record.state.state !== 'running') return false;
    record.controller.abort();
    return true;
  }

  /** Resolves when the model's current conversion has settled (tests, shutdown). */
  async settled(id: string): Promise<Conversion | null> {
    const record = this.running.get(id);
    if (!record) return null;
    await record.done;
    return { ...record.state };
  }

  private emit(record: Running): void {
    this.options.onProgress?.({ ...record.state });
  }

  private async run(model: Model, src: string, record: Running): Promise<void> {
    const { registry } = this.options;
    const state = record.state;
    const name = `${path.basename(src).replace(TORCH_FILE, '')}.safetensors`;
    const dest = path.join(registry.folder, model.id, name);
    let last = 0;
    try {
      this.emit(record);
      const result = await convertPtToSafetensors(src, dest, {
        signal: record.controller.signal,
        onProgress: (p) => {
          state.doneBytes = p.doneBytes;
          state.totalBytes = p.totalBytes;
          const now = Date.now();
          if (now - last >= (this.options.progressIntervalMs ?? 250)) {
            last = now;
            this.emit(record);
          }
        },
      });
      await registry.useConvertedWeights(model.id, src, { path: name, bytes: (await stat(result.path)).size, sha256: null });
      state.state = 'done';
    } catch (error) {
      const e = error instanceof ConvertError ? error : new ConvertError('E_IO', error instanceof Error ? error.message : String(error));
      state.state = e.code === 'E_CANCELLED' ? 'cancelled' : 'failed';
      state.error = { code: e.code, message: e.message };
    }
    this.emit(record);
  }
}
