/**
 * Gathers concurrent calls into batches written by one `write` each (group commit). A batch starts
 * `delayMs` after the first waiting call, or at once when `maxItems` items wait; one batch is written at
 * a time, and what gathered meanwhile is written as soon as it ends. Each call settles with its batch.
 * When `isolate(err)` says the failure came from the items (not from the database), each call of the
 * batch is written alone, so one bad call does not fail the others again and again.
 */
export interface BatcherOptions<T> {
  readonly delayMs: number;
  /** Items that start a batch at once; a single larger call is written alone. */
  readonly maxItems: number;
  readonly write: (items: readonly T[]) => Promise<void>;
  readonly isolate: (err: unknown) => boolean;
}

interface Pending<T> {
  readonly items: readonly T[];
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

export function createBatcher<T>(options: BatcherOptions<T>): (items: readonly T[]) => Promise<void> {
  const { delayMs, maxItems, write, isolate } = options;
  const queue: Pending<T>[] = [];
  let queuedItems = 0;
  let timer: NodeJS.Timeout | undefined;
  let writing = false;

  function flushSoon(): void {
    if (writing) return; // the running batch flushes what gathered when it ends
    if (queuedItems >= maxItems) {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      void flush();
    } else if (timer === undefined) {
      timer = setTimeout(() => {
        timer = undefined;
        void flush();
      }, delayMs);
    }
  }

  async function flush(): Promise<void> {
    if (writing || queue.length === 0) return;
    writing = true;
    const batch: Pending<T>[] = [];
    let count = 0;
    while (queue.length > 0 && (batch.length === 0 || count + queue[0]!.items.length <= maxItems)) {
      const next = queue.shift()!;
      count += next.items.length;
      batch.push(next);
    }
    queuedItems -= count;
    try {
      await write(batch.flatMap((p) => p.items));
      for (const p of batch) p.resolve();
    } catch (err) {
      if (batch.length > 1 && isolate(err)) {
        for (const p of batch) await write(p.items).then(p.resolve, p.reject);
      } else {
        for (const p of batch) p.reject(err);
      }
    } finally {
      writing = false;
      // What gathered meanwhile has waited long enough.
      if (queue.length > 0) void flush();
    }
  }

  return (items) => {
    if (items.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      queue.push({ items, resolve, reject });
      queuedItems += items.length;
      flushSoon();
    });
  };
}
