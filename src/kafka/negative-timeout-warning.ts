/**
 * kafkajs 2.2.4 arms a timer with a negative delay whenever a connection's request queue is not throttled
 * (`throttledUntil` starts at -1, so the delay is -1 - Date.now()): tulios/kafkajs#1751, unfixed upstream.
 * Node has always run such a timer after 1 ms; since Node 23 it also prints a TimeoutNegativeWarning to
 * stderr, once per process, so on Node 24 (the image's runtime) every command that talks to Kafka wrote
 * that line to stderr, where an operator's script reads errors. This drops exactly that warning, the one
 * raised from kafkajs's request queue, and passes every other warning (ours included) on.
 */

const FROM_KAFKAJS_QUEUE = /kafkajs[\\/]src[\\/]network[\\/]requestQueue[\\/]/;

/** True for the TimeoutNegativeWarning raised by kafkajs's request queue (judged by the call stack). */
export function isKafkajsNegativeTimeout(type: string | undefined, stack: string | undefined): boolean {
  return type === 'TimeoutNegativeWarning' && stack !== undefined && FROM_KAFKAJS_QUEUE.test(stack);
}

let installed = false;

/** Wraps process.emitWarning once per process; kafkaConfig() calls it, so every kafkajs client is covered. */
export function ignoreKafkajsNegativeTimeoutWarning(): void {
  if (installed) return;
  installed = true;
  const emit = process.emitWarning.bind(process) as (...args: unknown[]) => void;
  const wrapped = (warning: unknown, ...rest: unknown[]): void => {
    const [typeOrOptions] = rest;
    const type =
      typeof typeOrOptions === 'string'
        ? typeOrOptions
        : (typeOrOptions as { type?: string } | undefined)?.type;
    // Node emits it synchronously from setTimeout, so kafkajs's frame is a few frames down this stack.
    if (isKafkajsNegativeTimeout(type, new Error().stack)) return;
    emit(warning, ...rest);
  };
  process.emitWarning = wrapped as typeof process.emitWarning;
}
