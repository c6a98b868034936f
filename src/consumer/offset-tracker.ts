/**
 * Offsets of one partition, from taken to committed. States of an offset: taken (added, work running) →
 * done → committed. The committable offset is the first offset not yet done (or one past the last taken
 * when everything is done): commits advance over the contiguous done prefix only, so a committed offset
 * never passes an unfinished record, whatever order deliveries finish in.
 *
 * Offsets are JS numbers: exact up to 2^53, far beyond any real partition.
 */
export class PartitionOffsets {
  /** Taken offsets in increasing order, each with its done flag; the done prefix is trimmed on read. */
  private readonly queue: { offset: number; done: boolean }[] = [];
  private readonly byOffset = new Map<number, { offset: number; done: boolean }>();
  private head = 0;
  private lastTaken = -1;
  private committed: number | null = null;
  /** First offset taken: committing it would commit nothing new. */
  private start = -1;

  /** Highest offset taken so far (-1 when none): a refetch at or below it is work already taken. */
  get highestTaken(): number {
    return this.lastTaken;
  }

  /** Records taken and not done. */
  get pending(): number {
    return this.byOffset.size;
  }

  take(offset: number): void {
    if (offset <= this.lastTaken) {
      throw new Error(`offset ${offset} taken out of order (last ${this.lastTaken})`);
    }
    const entry = { offset, done: false };
    this.queue.push(entry);
    this.byOffset.set(offset, entry);
    if (this.start < 0) this.start = offset;
    this.lastTaken = offset;
  }

  /** Marks an offset done; unknown offsets (already trimmed, or never taken) are ignored. */
  done(offset: number): void {
    const entry = this.byOffset.get(offset);
    if (!entry) return;
    entry.done = true;
    this.byOffset.delete(offset);
  }

  /** The offset to commit (next record to read), or null when there is nothing new to commit. */
  committable(): number | null {
    while (this.head < this.queue.length && this.queue[this.head]!.done) this.head++;
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    if (this.lastTaken < 0) return null;
    const next = this.head < this.queue.length ? this.queue[this.head]!.offset : this.lastTaken + 1;
    return next > (this.committed ?? this.start) ? next : null;
  }

  markCommitted(offset: number): void {
    if (this.committed === null || offset > this.committed) this.committed = offset;
  }

  get lastCommitted(): number | null {
    return this.committed;
  }

  /**
   * Lowest offset kafkajs can hand out again for this partition: a refetch after a rebalance starts at the
   * last commit, else at or after the first offset taken (-1 when nothing was taken). A record below it
   * means the log itself went back (truncated, or the topic recreated).
   */
  get floor(): number {
    return this.committed ?? this.start;
  }
}
