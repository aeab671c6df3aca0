// A jobs service on the stand-in engine process, with a recording image sink and event log.
import type { FinishedImage, ImageSink } from '../../../main/services/jobs/image-sink.js';
import type { JobStore } from '../../../main/services/jobs/jobs.js';
import { createJobsService, type JobsService } from '../../../main/services/jobs/jobs.service.js';
import type { JobEventName } from '../../../main/services/jobs/processor.js';
import type { EngineHost } from '../../../main/engine-host/host.js';
import { fakeHost } from '../engine-host/fake-engine.js';

export class RecordingSink implements ImageSink {
  saved: FinishedImage[] = [];
  /** The save (1-based, counting failures) that throws, once. */
  failOn = 0;
  private attempts = 0;
  async save(image: FinishedImage): Promise<string> {
    if (++this.attempts === this.failOn) throw new Error('disk full');
    this.saved.push(image);
    return `img${this.saved.length}`;
  }
}

export interface Harness {
  service: JobsService;
  host: EngineHost;
  sink: RecordingSink;
  events: { event: JobEventName; payload: { id?: string } & Record<string, unknown> }[];
  of(event: JobEventName): ({ id?: string } & Record<string, unknown>)[];
  close(): void;
}

export function startJobs(store: JobStore, o: { stepMs?: number; crashAttempts?: () => number; previewEvery?: number; previewIntervalMs?: number } = {}): Harness {
  const host = fakeHost({ stepMs: o.stepMs ?? 2 });
  const sink = new RecordingSink();
  const events: Harness['events'] = [];
  const service = createJobsService({
    store,
    engine: host,
    sink,
    emit: (event, payload) => events.push({ event, payload: payload as Harness['events'][number]['payload'] }),
    crashAttempts: o.crashAttempts,
    previewEvery: () => o.previewEvery ?? 0,
    previewIntervalMs: o.previewIntervalMs,
  });
  return {
    service,
    host,
    sink,
    events,
    of: (event) => events.filter((e) => e.event === event).map((e) => e.payload),
    close() {
      service.stop();
      host.stop();
    },
  };
}
