/**
 * The in-memory join (DESIGN.md §3), pure: Tiledesk's rule is
 *   subscription.event = event AND enabled AND (subscription.id_project = id_project OR global).
 * Per event, the global subscriptions form one list and each project's own (non-global) ones are
 * precomputed together with those globals, so `match` is two map lookups returning a cached frozen array:
 * no allocation on the hot path, and a global subscription never appears twice for its own project.
 * Cost: each (event, project) array repeats that event's globals, fine while globals are few (as in Tiledesk).
 *
 * Snapshots are immutable. `withChanges` derives the next one sharing everything the change did not touch:
 * ids live in 256 shards and only the touched shards and (event, project) arrays are copied, so applying a
 * few changed rows to 100,000 costs microseconds-to-milliseconds, not a rebuild.
 */
import type { Subscription, SubscriptionIndex } from './types.js';

const EMPTY: readonly Subscription[] = Object.freeze([]);
const SHARDS = 256;

interface EventBucket {
  readonly globals: readonly Subscription[];
  /** Project → its own subscriptions followed by the event's globals (own = the first length − globals). */
  readonly byProject: ReadonlyMap<string, readonly Subscription[]>;
}

/** A snapshot that can derive its successor from a few changed rows without a full rebuild. */
export interface SubscriptionSnapshot extends SubscriptionIndex {
  /**
   * A new snapshot where each id in `changedIds` or `rows` takes its state from `rows` (absent or
   * disabled = gone). This snapshot is left unchanged.
   */
  withChanges(changedIds: Iterable<string>, rows: readonly Subscription[]): SubscriptionSnapshot;
}

function shardOf(id: string): number {
  let h = 0;
  for (let i = Math.max(0, id.length - 6); i < id.length; i++) h = (h * 31 + id.charCodeAt(i)) | 0;
  return h & (SHARDS - 1);
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}

function ownOf(bucket: EventBucket, project: string): readonly Subscription[] {
  const list = bucket.byProject.get(project);
  return list === undefined ? EMPTY : list.slice(0, list.length - bucket.globals.length);
}

function combined(own: readonly Subscription[], globals: readonly Subscription[]): readonly Subscription[] {
  return Object.freeze(globals.length === 0 ? own.slice() : own.concat(globals));
}

function buildBucket(
  globals: readonly Subscription[],
  own: ReadonlyMap<string, readonly Subscription[]>,
): EventBucket {
  const frozenGlobals = globals.length === 0 ? EMPTY : Object.freeze(globals.slice());
  const byProject = new Map<string, readonly Subscription[]>();
  for (const [project, list] of own) {
    if (list.length > 0) byProject.set(project, combined(list, frozenGlobals));
  }
  return { globals: frozenGlobals, byProject };
}

/** Applies removals (old versions, by id) and additions, all of one event, copying only what changes. */
function patchBucket(
  old: EventBucket | undefined,
  removed: ReadonlyMap<string, Subscription>,
  added: readonly Subscription[],
): EventBucket {
  const base: EventBucket = old ?? { globals: EMPTY, byProject: new Map() };
  const keep = (s: Subscription): boolean => !removed.has(s.id);
  const touched = [...removed.values(), ...added];
  if (touched.some((s) => s.global)) {
    // Every project's array embeds the globals: rebuild the bucket.
    const own = new Map<string, Subscription[]>();
    for (const project of base.byProject.keys()) own.set(project, ownOf(base, project).filter(keep));
    for (const s of added) if (!s.global) push(own, s.idProject, s);
    return buildBucket(base.globals.filter(keep).concat(added.filter((s) => s.global)), own);
  }
  const byProject = new Map(base.byProject);
  for (const project of new Set(touched.map((s) => s.idProject))) {
    const own = ownOf(base, project)
      .filter(keep)
      .concat(added.filter((s) => s.idProject === project));
    if (own.length === 0) byProject.delete(project);
    else byProject.set(project, combined(own, base.globals));
  }
  return { globals: base.globals, byProject };
}

class MemorySnapshot implements SubscriptionSnapshot {
  constructor(
    private readonly shards: readonly ReadonlyMap<string, Subscription>[],
    private readonly byEvent: ReadonlyMap<string, EventBucket>,
    readonly size: number,
  ) {}

  match(event: string, idProject: string | null): readonly Subscription[] {
    const bucket = this.byEvent.get(event);
    if (bucket === undefined) return EMPTY;
    if (idProject === null) return bucket.globals;
    return bucket.byProject.get(idProject) ?? bucket.globals;
  }

  get(id: string): Subscription | undefined {
    return this.shards[shardOf(id)]?.get(id);
  }

  withChanges(changedIds: Iterable<string>, rows: readonly Subscription[]): SubscriptionSnapshot {
    const changed = new Set(changedIds);
    for (const r of rows) changed.add(r.id);
    const shards = this.shards.slice();
    const copied = new Set<number>();
    const removedByEvent = new Map<string, Map<string, Subscription>>();
    const addedByEvent = new Map<string, Subscription[]>();
    let size = this.size;
    const shardFor = (id: string): Map<string, Subscription> => {
      const n = shardOf(id);
      if (!copied.has(n)) {
        shards[n] = new Map(shards[n]);
        copied.add(n);
      }
      return shards[n] as Map<string, Subscription>;
    };
    for (const id of changed) {
      const old = this.get(id);
      if (old === undefined) continue;
      shardFor(id).delete(id);
      size--;
      const removed = removedByEvent.get(old.event) ?? new Map<string, Subscription>();
      removedByEvent.set(old.event, removed.set(id, old));
    }
    for (const r of rows) {
      if (!r.enabled || shardFor(r.id).has(r.id)) continue;
      shardFor(r.id).set(r.id, r);
      size++;
      push(addedByEvent, r.event, r);
    }
    const byEvent = new Map(this.byEvent);
    for (const event of new Set([...removedByEvent.keys(), ...addedByEvent.keys()])) {
      const bucket = patchBucket(
        this.byEvent.get(event),
        removedByEvent.get(event) ?? new Map(),
        addedByEvent.get(event) ?? [],
      );
      if (bucket.byProject.size === 0 && bucket.globals.length === 0) byEvent.delete(event);
      else byEvent.set(event, bucket);
    }
    return new MemorySnapshot(shards, byEvent, size);
  }
}

/** Indexes the enabled rows among `rows` (disabled ones are left out: they never match). */
export function buildSubscriptionIndex(rows: readonly Subscription[]): SubscriptionSnapshot {
  const shards = Array.from({ length: SHARDS }, () => new Map<string, Subscription>());
  const globals = new Map<string, Subscription[]>();
  const own = new Map<string, Map<string, Subscription[]>>();
  let size = 0;
  for (const r of rows) {
    if (!r.enabled) continue;
    const shard = shards[shardOf(r.id)] as Map<string, Subscription>;
    if (shard.has(r.id)) continue;
    shard.set(r.id, r);
    size++;
    if (r.global) {
      push(globals, r.event, r);
    } else {
      let perProject = own.get(r.event);
      if (perProject === undefined) own.set(r.event, (perProject = new Map()));
      push(perProject, r.idProject, r);
    }
  }
  const byEvent = new Map<string, EventBucket>();
  for (const event of new Set([...globals.keys(), ...own.keys()])) {
    byEvent.set(event, buildBucket(globals.get(event) ?? EMPTY, own.get(event) ?? new Map()));
  }
  return new MemorySnapshot(shards, byEvent, size);
}

function sameTime(a: Date | null, b: Date | null): boolean {
  return a === null || b === null ? a === b : a.getTime() === b.getTime();
}

function sameSubscription(a: Subscription, b: Subscription): boolean {
  return (
    a.id === b.id &&
    a.idProject === b.idProject &&
    a.event === b.event &&
    a.target === b.target &&
    a.secret === b.secret &&
    a.previousSecret === b.previousSecret &&
    sameTime(a.previousSecretExpiresAt, b.previousSecretExpiresAt) &&
    a.global === b.global &&
    a.enabled === b.enabled &&
    a.ordering === b.ordering &&
    a.disabledReason === b.disabledReason &&
    sameTime(a.disabledAt, b.disabledAt) &&
    a.createdBy === b.createdBy &&
    sameTime(a.createdAt, b.createdAt) &&
    sameTime(a.updatedAt, b.updatedAt)
  );
}

/**
 * The snapshot for a full load of `rows`, keeping the previous Subscription objects of unchanged rows (the
 * delivery side caches per object: JWT, keys) and returning `previous` itself when nothing changed, so a
 * periodic resync of an unchanged table costs comparisons, not a rebuild.
 */
export function refreshSubscriptionIndex(
  previous: SubscriptionSnapshot,
  rows: readonly Subscription[],
): SubscriptionSnapshot {
  let unchanged = 0;
  let enabled = 0;
  const reused = rows.map((r) => {
    if (!r.enabled) return r;
    enabled++;
    const old = previous.get(r.id);
    if (old === undefined || !sameSubscription(old, r)) return r;
    unchanged++;
    return old;
  });
  if (unchanged === enabled && enabled === previous.size) return previous;
  return buildSubscriptionIndex(reused);
}
