// The engine process's side of a tuning run: decodes the run's image files (sharp: any format
// it reads, EXIF orientation applied, alpha dropped, as 8-bit sRGB) and runs the addon's tune,
// turning its events into messages for the host.
import sharp from 'sharp';
import { tune, type TuneEvent, type TuneImage, type TuneJob } from '../engine/tuning.js';
import type { EngineMessage } from './protocol.js';
import type { TuneSpec } from './tuning-protocol.js';

export async function decodeRgb(file: string): Promise<{ rgb: Uint8Array; width: number; height: number }> {
  const { data, info } = await sharp(file, { failOn: 'error' })
    .rotate()
    .toColourspace('srgb')
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`${file}: decoded to ${info.channels} channels, not RGB`);
  return { rgb: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
}

function eventMessage(jobId: string, e: TuneEvent): EngineMessage {
  if (e.type === 'baseSamples' || e.type === 'checkpoint') {
    const samples = e.samples.map((s) => ({ ...s, rgb: new Uint8Array(s.rgb) }));
    return { type: 'tuneEvent', jobId, event: { ...e, samples } };
  }
  return { type: 'tuneEvent', jobId, event: e };
}

/** Starts the run; `onJob` receives the job as soon as it exists (so a cancel can reach it). */
export async function runTuning(
  jobId: string,
  spec: TuneSpec,
  post: (m: EngineMessage) => void,
  onJob: (job: TuneJob) => void,
): Promise<void> {
  const images: TuneImage[] = [];
  for (const [i, im] of spec.images.entries()) {
    try {
      images.push({ ...(await decodeRgb(im.file)), caption: im.caption });
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      post({ type: 'failed', jobId, code: 'E_INVALID_ARGUMENT', message: `image ${i} (${im.file}) is unreadable: ${why}` });
      return;
    }
  }
  const { images: _files, ...options } = spec;
  const job = tune({ ...options, images }, (e) => post(eventMessage(jobId, e)));
  onJob(job);
  const result = await job.result;
  post({ type: 'tuned', jobId, result });
}
