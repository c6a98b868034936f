/**
 * Polling with a deadline, instead of fixed sleeps:
 *
 *   await waitFor(() => receiver.requests.length >= 3, { message: 'three attempts' });
 *   const offsets = await waitFor(async () => { const o = await committedOffsets(g, t); return o[0] === '4' && o; });
 */

/** What `waitFor` resolves with: the condition's first truthy result. */
export type Truthy<T> = Exclude<T, false | 0 | '' | null | undefined>;

export interface WaitForOptions {
  /** Give up after this long. Default 10 s. */
  timeoutMs?: number;
  /** Pause between two calls. Default 50 ms. */
  intervalMs?: number;
  /** What is being waited for, for the timeout error (a function is called only on timeout). */
  message?: string | (() => string);
}

/**
 * Calls `condition` until it returns (or resolves to) a truthy value, and resolves with that value.
 * A call that throws counts as "not yet" (so `expect(...)` can be used inside; return `true` after it).
 * At the deadline, rejects with an error naming `message` and the last thrown error or value.
 */
export async function waitFor<T>(
  condition: () => T | Promise<T>,
  options: WaitForOptions = {},
): Promise<Truthy<Awaited<T>>> {
  const { timeoutMs = 10_000, intervalMs = 50 } = options;
  const deadline = Date.now() + timeoutMs;
  let last: { value: unknown } | { error: unknown } = { value: undefined };
  for (;;) {
    try {
      const value = await condition();
      if (value) return value as Truthy<Awaited<T>>;
      last = { value };
    } catch (error) {
      last = { error };
    }
    if (Date.now() >= deadline) break;
    await new Promise((resolve) =>
      setTimeout(resolve, Math.min(intervalMs, Math.max(0, deadline - Date.now()))),
    );
  }
  const what = typeof options.message === 'function' ? options.message() : (options.message ?? 'condition');
  const detail =
    'error' in last
      ? `last error: ${String(last.error instanceof Error ? last.error.message : last.error)}`
      : `last value: ${describe(last.value)}`;
  throw new Error(`waitFor timed out after ${timeoutMs} ms waiting for ${what} (${detail})`, {
    cause: 'error' in last ? last.error : undefined,
  });
}

function describe(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
