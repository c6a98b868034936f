/**
 * A Subscription value as the store returns it: project P1's `request.create`, enabled, concurrent, no
 * rotation under way. Tests override what they are about: `subscription({ target: receiver.url })`.
 */
import type { Subscription } from '../../src/subscriptions/types.js';

export function subscription(overrides: Partial<Subscription> = {}): Subscription {
  return {
    id: 'sub-1',
    idProject: 'P1',
    event: 'request.create',
    target: 'https://crm.example.com/hooks',
    secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
    previousSecret: null,
    previousSecretExpiresAt: null,
    global: false,
    enabled: true,
    ordering: 'concurrent',
    disabledReason: null,
    disabledAt: null,
    createdBy: 'u1',
    createdAt: new Date('2026-01-01T00:00:00Z'),
    updatedAt: new Date('2026-01-01T00:00:00Z'),
    ...overrides,
  };
}
