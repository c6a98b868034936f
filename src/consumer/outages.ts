/**
 * Our own dependencies that are down (Postgres snapshot too old, schema registry unreachable, ...). While
 * any is down the consumer stops taking records; nothing is dead-lettered for it. Listeners hear changes.
 */
export type Dependency = 'subscriptions' | 'schema_registry';

export class Outages {
  private readonly down = new Set<Dependency>();
  private readonly listeners: ((anyDown: boolean) => void)[] = [];

  set(dep: Dependency, isDown: boolean): void {
    const before = this.down.size > 0;
    if (isDown) this.down.add(dep);
    else this.down.delete(dep);
    const after = this.down.size > 0;
    if (before !== after) for (const l of this.listeners) l(after);
  }

  get any(): boolean {
    return this.down.size > 0;
  }

  list(): Dependency[] {
    return [...this.down];
  }

  onChange(listener: (anyDown: boolean) => void): void {
    this.listeners.push(listener);
  }
}
