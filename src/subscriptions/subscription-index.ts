/**
 * The in-memory join (DESIGN.md §3), pure: Tiledesk's rule is
 *   subscription.event = event AND enabled AND (subscription.id_project = id_project OR global).
 * Per event, the global subscriptions form one list and each project's own (non-global) ones are
 * precomputed together with those globals, so `match` is two map lookups returning a cached frozen array:
 * no allocation on the hot path, and a global subscription never appears twice for its own project.
 * Cost: each (event, project) array repeats that event's globals, fine while globals are few (as in Tiledesk).
 */
import type { Subscription, SubscriptionIndex } from './types.js';

const EMPTY: readonly Subscription[] = Object.freeze([]);

interface EventBucket {
  /** Every enabled subscription of the event, for rebuilding the bucket after a change. */
  readonly all: readonly Subscription[];
  readonly globals: readonly Subscription[];
  /** Project → its own subscriptions followed by the event's globals. */
  readonly byProject: ReadonlyMap<string, readonly Subscription[]>;
}

/** A snapshot that can derive its successor from a few changed rows without a full rebuild. */
export interface SubscriptionSnapshot extends SubscriptionIndex {
  /**
   * A new snapshot where each id in `changedIds` or `rows` takes its state from `rows` (absent or
   * disabled = gone). Only the events touched are rebuilt; this snapshot is left unchanged.
   */
  withChanges(changedIds: Iterable<string>, rows: readonly Subscription[]): SubscriptionSnapshot;
}

function buildBucket(all: readonly Subscription[]): EventBucket {
  const globals: Subscription[] = [];
  const own = new Map<string, Subscription[]>();
  for (const s of all) {
    if (s.global) {
      globals.push(s);
    } else {
      const list = own.get(s.idProject);
      if (list === undefined) own.set(s.idProject, [s]);
      else list.push(s);
    }
  }
  const byProject = new Map<string, readonly Subscription[]>();
  for (const [project, list] of own) {
    byProject.set(project, Object.freeze(globals.length === 0 ? list : list.concat(globals)));
  }
  return { all, globals: globals.length === 0 ? EMPTY : Object.freeze(globals), byProject };
}

class MemorySnapshot implements SubscriptionSnapshot {
  constructor(
    private readonly byId: ReadonlyMap<string, Subscription>,
    private readonly byEvent: ReadonlyMap<string, EventBucket>,
  ) {}

  get size(): number {
    return this.byId.size;
  }

  match(event: string, idProject: string | null): readonly Subscription[] {
    const bucket = this.byEvent.get(event);
    if (bucket === undefined) return EMPTY;
    if (idProject === null) return bucket.globals;
    return bucket.byProject.get(idProject) ?? bucket.globals;
  }

  get(id: string): Subscription | undefined {
    return this.byId.get(id);
  }

  withChanges(changedIds: Iterable<string>, rows: readonly Subscription[]): SubscriptionSnapshot {
    const changed = new Set(changedIds);
    for (const r of rows) changed.add(r.id);
    const byId = new Map(this.byId);
    const touched = new Set<string>();
    for (const id of changed) {
      const old = byId.get(id);
      if (old !== undefined) {
        touched.add(old.event);
        byId.delete(id);
      }
    }
    const added = new Map<string, Subscription[]>();
    for (const r of rows) {
      if (!r.enabled) continue;
      byId.set(r.id, r);
      touched.add(r.event);
      const list = added.get(r.event);
      if (list === undefined) added.set(r.event, [r]);
      else list.push(r);
    }
    const byEvent = new Map(this.byEvent);
    for (const event of touched) {
      const kept = (this.byEvent.get(event)?.all ?? EMPTY).filter((s) => !changed.has(s.id));
      const all = kept.concat(added.get(event) ?? EMPTY);
      if (all.length === 0) byEvent.delete(event);
      else byEvent.set(event, buildBucket(all));
    }
    return new MemorySnapshot(byId, byEvent);
  }
}

/** Indexes the enabled rows among `rows` (disabled ones are left out: they never match). */
export function buildSubscriptionIndex(rows: readonly Subscription[]): SubscriptionSnapshot {
  const byId = new Map<string, Subscription>();
  const perEvent = new Map<string, Subscription[]>();
  for (const r of rows) {
    if (!r.enabled) continue;
    byId.set(r.id, r);
    const list = perEvent.get(r.event);
    if (list === undefined) perEvent.set(r.event, [r]);
    else list.push(r);
  }
  const byEvent = new Map<string, EventBucket>();
  for (const [event, all] of perEvent) byEvent.set(event, buildBucket(all));
  return new MemorySnapshot(byId, byEvent);
}
