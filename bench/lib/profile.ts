/** Reads a V8 .cpuprofile (node --cpu-prof) and ranks functions by self time. */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly hitCount?: number;
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples?: readonly number[];
  readonly timeDeltas?: readonly number[];
}

export interface SelfTime {
  readonly fn: string;
  /** file:line, repository-relative when inside it. */
  readonly where: string;
  readonly selfMs: number;
  readonly percent: number;
}

/** Self time per function (same name + file + line merged), largest first; `(idle)` left out of the total. */
export function topSelfTime(
  path: string,
  repoRoot: string,
  limit = 25,
): { totalMs: number; top: SelfTime[] } {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let k = 0; k < samples.length; k++) {
    // timeDeltas[k]: the time since the previous sample, attributed to sample k.
    const dt = deltas[k] ?? 0;
    selfUs.set(samples[k]!, (selfUs.get(samples[k]!) ?? 0) + Math.max(0, dt));
  }
  const merged = new Map<string, { fn: string; where: string; us: number }>();
  let totalUs = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') continue;
    totalUs += us;
    const file = url
      .replace(/^file:\/\//, '')
      .replace(repoRoot, '')
      .replace(/^\/+/, '')
      .replace(/^bench\/\.build\//, '');
    const where = file === '' ? '(native)' : `${file}:${lineNumber + 1}`;
    const fn = functionName === '' ? '(anonymous)' : functionName;
    const key = `${fn}\u0000${where}`;
    const entry = merged.get(key) ?? { fn, where, us: 0 };
    entry.us += us;
    merged.set(key, entry);
  }
  const top = [...merged.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, limit)
    .map((e) => ({
      fn: e.fn,
      where: e.where,
      selfMs: e.us / 1000,
      percent: totalUs > 0 ? (e.us / totalUs) * 100 : 0,
    }));
  return { totalMs: totalUs / 1000, top };
}

/** Self time grouped by area: our src/, node_modules packages, node internals, GC, the rest. */
export function selfTimeByArea(path: string, repoRoot: string): Record<string, number> {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  const areas: Record<string, number> = {};
  for (let k = 0; k < samples.length; k++) {
    const node = byId.get(samples[k]!);
    if (!node || node.callFrame.functionName === '(idle)') continue;
    const url = node.callFrame.url
      .replace(/^file:\/\//, '')
      .replace(repoRoot, '')
      .replace(/^\/+/, '')
      .replace(/^bench\/\.build\//, '');
    const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
    const area = nm
      ? nm[1]!
      : url.startsWith('src/')
        ? `src/${url.split('/')[1]}`
        : url.startsWith('node:')
          ? 'node internals'
          : node.callFrame.functionName === '(garbage collector)'
            ? '(garbage collector)'
            : url === ''
              ? `native: ${node.callFrame.functionName || '(anonymous)'}`
              : 'other';
    areas[area] = (areas[area] ?? 0) + Math.max(0, deltas[k] ?? 0) / 1000;
  }
  return areas;
}
