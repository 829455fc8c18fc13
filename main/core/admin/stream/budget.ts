/**
 * What all admin streams of one node share (stream.ts), so that no client — and no number of
 * clients — can make the node start unbounded work or hold unbounded memory:
 *
 * - **Handler calls under way, node-wide: an exact cap** (`perNode`). A stream's requests wait in
 *   its queue for a free slot; the queue itself is bounded because the stream stops reading (below).
 * - **Reading.** A stream stops reading when it has `perStream` requests read and not answered, or
 *   when the node has `perNode` and the stream holds at least its fair share (`perNode` / streams
 *   open). A stream with a request or two is never paused for another's load. It reads again once
 *   both are at half. (A read already parsed still delivers its frames: `ws` emits the rest of a
 *   chunk after `pause()`, so the queue overshoots by one TCP read at most; the slots stay exact.)
 * - **Answers left unread**: past `unreadPerNode` bytes across streams, the stream with the most
 *   is cut (each stream also has its own cap in stream.ts).
 */

/** A stream as the budget sees it. */
export interface BudgetMember {
  /** Requests read and not yet answered. */
  readonly pending: number;
  /** Bytes of answers the client has not read yet. */
  readonly unread: number;
  /** The node has room again: read if its own state allows. */
  resumeIfRoom(): void;
  /** Cut: its client holds too much of the node's memory. */
  cut(why: string): void;
}

export class StreamBudget {
  /** Requests read and not yet answered, all streams. */
  pending = 0;
  /** Handler calls under way, all streams. */
  running = 0;
  private readonly members = new Set<BudgetMember>();
  private readonly paused = new Set<BudgetMember>();
  private waiting: Array<() => void> = [];

  readonly perStream: number;
  readonly perNode: number;
  readonly unreadPerNode: number;

  constructor(limits: { perStream: number; perNode: number; unreadPerNode: number }) {
    this.perStream = limits.perStream;
    this.perNode = limits.perNode;
    this.unreadPerNode = limits.unreadPerNode;
  }

  join(member: BudgetMember): void {
    this.members.add(member);
  }

  leave(member: BudgetMember): void {
    this.members.delete(member);
    this.paused.delete(member);
  }

  /** A stream's fair share of the node's requests. */
  share(): number {
    return Math.max(1, Math.floor(this.perNode / Math.max(1, this.members.size)));
  }

  /** Whether this stream should stop reading now. */
  shouldPause(member: BudgetMember): boolean {
    return member.pending >= this.perStream || (this.pending >= this.perNode && member.pending >= this.share());
  }

  /** Whether a paused stream may read again. */
  mayResume(member: BudgetMember): boolean {
    return member.pending <= this.perStream / 2 && (this.pending <= this.perNode / 2 || member.pending <= this.share() / 2);
  }

  setPaused(member: BudgetMember, paused: boolean): void {
    if (paused) this.paused.add(member);
    else this.paused.delete(member);
  }

  /** Requests answered: every paused stream looks whether it may read again. */
  settled(count: number): void {
    this.pending -= count;
    for (const member of this.paused) member.resumeIfRoom();
  }

  /** Resolves once one more handler call may start on the node: true when it had to wait for one. */
  async slot(): Promise<boolean> {
    let waited = false;
    while (this.running >= this.perNode) {
      waited = true;
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    this.running++;
    return waited;
  }

  /** A handler call ended: the streams waiting for a slot try again, in the order they waited. */
  release(): void {
    this.running--;
    const waiting = this.waiting;
    this.waiting = [];
    for (const wake of waiting) wake();
  }

  /** After an answer was queued: past the node's cap of unread answers, the stream with the most is cut. */
  checkUnread(): void {
    let total = 0;
    let largest: BudgetMember | undefined;
    for (const member of this.members) {
      total += member.unread;
      if (!largest || member.unread > largest.unread) largest = member;
    }
    if (total > this.unreadPerNode && largest) largest.cut(`answers left unread across streams passed ${this.unreadPerNode} bytes`);
  }
}
