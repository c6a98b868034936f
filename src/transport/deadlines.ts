/**
 * Per-attempt deadlines without a timer or an AbortController per attempt. Every attempt of a transport has
 * the same budget, so deadlines expire in the order they were armed: a doubly linked list in arming order,
 * one timer for its head. Arming and disarming are O(1) pointer updates; the timer only fires when the
 * head's deadline passes (then it expires what is due and re-arms for the new head).
 */
export interface DeadlineEntry {
  /** Called once, when the deadline passes before disarm(). */
  onDeadline(): void;
  /** Internal: list links and due time. */
  dlPrev: DeadlineEntry | null;
  dlNext: DeadlineEntry | null;
  dlDue: number;
  dlArmed: boolean;
}

export class Deadlines {
  private head: DeadlineEntry | null = null;
  private tail: DeadlineEntry | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly budgetMs: number,
    private readonly now: () => number = performance.now.bind(performance),
  ) {}

  arm(e: DeadlineEntry): void {
    e.dlDue = this.now() + this.budgetMs;
    e.dlArmed = true;
    e.dlNext = null;
    e.dlPrev = this.tail;
    if (this.tail) this.tail.dlNext = e;
    else this.head = e;
    this.tail = e;
    if (this.timer === null) this.schedule(e.dlDue);
  }

  disarm(e: DeadlineEntry): void {
    if (!e.dlArmed) return;
    e.dlArmed = false;
    if (e.dlPrev) e.dlPrev.dlNext = e.dlNext;
    else this.head = e.dlNext;
    if (e.dlNext) e.dlNext.dlPrev = e.dlPrev;
    else this.tail = e.dlPrev;
    e.dlPrev = e.dlNext = null;
    // The timer is left as it is: when it fires early for a later head, it re-arms (cheaper than
    // clearing and setting a timer on every completion).
    if (this.head === null && this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }

  /** Armed entries (for tests). */
  get size(): number {
    let n = 0;
    for (let e = this.head; e; e = e.dlNext) n++;
    return n;
  }

  private schedule(due: number): void {
    this.timer = setTimeout(() => this.fire(), Math.max(0, Math.ceil(due - this.now())));
    this.timer.unref();
  }

  private fire(): void {
    this.timer = null;
    const now = this.now();
    while (this.head && this.head.dlDue <= now) {
      const e = this.head;
      this.disarm(e);
      try {
        e.onDeadline();
      } catch {
        // a deadline callback must not stop the others
      }
    }
    if (this.head && this.timer === null) this.schedule(this.head.dlDue);
  }
}
