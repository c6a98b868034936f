import { describe, expect, it } from '@jest/globals';
import { OriginSlots, originOf } from '../../../src/delivery/origin-slots.js';

describe('OriginSlots', () => {
  it('limits attempts per origin, independently of other origins, and forgets idle origins', async () => {
    const slots = new OriginSlots(2);
    expect(slots.acquire('http://hung')).toBeUndefined();
    expect(slots.acquire('http://hung')).toBeUndefined();
    const third = slots.acquire('http://hung');
    expect(third).toBeInstanceOf(Promise);
    // Another receiver is not affected by the full one.
    expect(slots.acquire('http://healthy')).toBeUndefined();
    slots.release('http://healthy');
    expect(slots.size).toBe(1);
    slots.release('http://hung');
    await third;
    slots.release('http://hung');
    slots.release('http://hung');
    expect(slots.size).toBe(0);
  });

  it('keys by scheme, host and port', () => {
    expect(originOf('https://crm.example.com/hooks?a=1')).toBe('https://crm.example.com');
    expect(originOf('http://127.0.0.1:4000/x')).toBe('http://127.0.0.1:4000');
    expect(originOf('not a url')).toBe('not a url');
  });
});
