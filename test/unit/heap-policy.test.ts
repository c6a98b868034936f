import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { applyHeapPolicy, heapPolicyFlags } from '../../src/heap-policy.js';
import { loadConfig } from '../../src/config.js';

describe('heap policy (HEAP_GROWTH_PERCENT)', () => {
  it('maps the percentage to V8 --heap-growing-percent; 0 leaves V8 alone', () => {
    expect(heapPolicyFlags(50)).toEqual(['--heap-growing-percent=50']);
    expect(heapPolicyFlags(0)).toEqual([]);
    const set: string[] = [];
    applyHeapPolicy(75, (f) => set.push(f));
    applyHeapPolicy(0, (f) => set.push(f));
    expect(set).toEqual(['--heap-growing-percent=75']);
  });

  it('defaults to 50 and refuses values outside 0..300', () => {
    expect(loadConfig({}).HEAP_GROWTH_PERCENT).toBe(50);
    expect(() => loadConfig({ HEAP_GROWTH_PERCENT: '-1' })).toThrow(/HEAP_GROWTH_PERCENT/);
    expect(() => loadConfig({ HEAP_GROWTH_PERCENT: '301' })).toThrow(/HEAP_GROWTH_PERCENT/);
  });

  it('is a flag this Node accepts at run time (an unknown flag name would be ignored silently otherwise)', () => {
    // V8 prints its flag list with --v8-options; the name must be there for setFlagsFromString to mean anything.
    const options = execFileSync(process.execPath, ['--v8-options'], { encoding: 'utf8' });
    expect(options).toContain('--heap-growing-percent');
  });
});
