/**
 * Our users' events of a room enter the group commit in the order they came (issue #17: a client
 * batch is signed off the main thread, and must not be overtaken by a message sent after it).
 * Each send's `prepare` runs at once — it reserves the send's depths from the room clock, so
 * depths follow the order of arrival — and its `submit`, which queues the group-commit job
 * synchronously, runs only once every earlier send of the same room is queued. A send that finds
 * none waiting is queued at once, with no extra turn of the event loop.
 */
export class SendOrder {
  /** Per room: the turn of the last send still on its way into the group commit's queue. */
  private readonly turns = new Map<string, Promise<void>>();

  run<P, T>(room: string, prepare: () => P | Promise<P>, submit: (prepared: P) => Promise<T>): Promise<T> {
    const previous = this.turns.get(room);
    const prepared = prepare();
    if (!previous && !(prepared instanceof Promise)) return submit(prepared);
    return this.inTurn(room, previous, prepared, submit);
  }

  /** Sends of rooms still waiting (tests). */
  get waiting(): number {
    return this.turns.size;
  }

  private async inTurn<P, T>(room: string, previous: Promise<void> | undefined, prepared: P | Promise<P>, submit: (prepared: P) => Promise<T>): Promise<T> {
    let release!: () => void;
    const turn = new Promise<void>((resolve) => (release = resolve));
    this.turns.set(room, turn);
    try {
      const ready = await prepared;
      if (previous) await previous;
      const queued = submit(ready);
      // Queued now: the room's next send may follow.
      release();
      return await queued;
    } finally {
      release();
      if (this.turns.get(room) === turn) this.turns.delete(room);
    }
  }
}
