// Which compute backend the engine uses: the user's setting against what this build and this
// machine offer. The choice comes with its reason so the studio can show it ("auto: cpu, because
// vulkan: not compiled into this build").
export const BACKEND_PREFERENCE = ['cuda', 'vulkan', 'cpu'] as const;
export type BackendName = (typeof BACKEND_PREFERENCE)[number];
export type BackendSetting = 'auto' | BackendName;

export interface BackendProbe {
  name: string;
  available: boolean;
  /** False for a backend that works but is slower than the CPU one (Vulkan on a CPU driver such
   *  as lavapipe): `auto` passes it by. Absent means preferred when available. */
  preferred?: boolean;
  /** What was found (device name) or why it is missing. */
  detail: string;
}

export interface BackendChoice {
  backend: BackendName;
  reason: string;
  found: BackendProbe[];
}

/** Picks the backend; never fails: cpu is the reference and always works. */
export function selectBackend(setting: BackendSetting, found: readonly BackendProbe[]): BackendChoice {
  const probe = (name: string) => found.find((p) => p.name === name);
  const list = [...found];
  if (!probe('cpu')) list.push({ name: 'cpu', available: true, detail: 'the reference backend' });
  if (setting !== 'auto') {
    const p = probe(setting);
    if (setting === 'cpu' || p?.available) {
      return { backend: setting, reason: `${setting}: chosen in settings`, found: list };
    }
    const why = p ? p.detail : 'not compiled into this build';
    return { backend: 'cpu', reason: `${setting} was chosen in settings but is unavailable (${why}); using cpu`, found: list };
  }
  const autoTakes = (p: BackendProbe | undefined) => p?.available === true && p.preferred !== false;
  for (const name of BACKEND_PREFERENCE) {
    const p = probe(name);
    if (name === 'cpu' || autoTakes(p)) {
      const skipped = BACKEND_PREFERENCE.slice(0, BACKEND_PREFERENCE.indexOf(name)).map((n) => {
        const q = probe(n);
        if (!q) return `${n}: not compiled into this build`;
        return q.available ? `${n}: ${q.detail}, slower than the CPU backend` : `${n}: ${q.detail}`;
      });
      const because = skipped.length ? ` (${skipped.join('; ')})` : '';
      return { backend: name, reason: `auto: ${name}${because}`, found: list };
    }
  }
  return { backend: 'cpu', reason: 'auto: cpu', found: list };
}
