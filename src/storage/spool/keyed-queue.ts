// Runs tasks one at a time per key (per user), different keys in parallel.
// A key's entry lives only while it has tasks, so idle users cost nothing.

interface Lane {
  /** Settles when the last task queued so far has finished. */
  tail: Promise<void>;
  pending: number;
}

const ignore = (): void => {};

export class KeyedQueue {
  private readonly lanes = new Map<string, Lane>();
  /** Callers of drain() waiting for the last lane to empty. */
  private idleWaiters: Array<() => void> = [];

  run<R>(key: string, task: () => Promise<R>): Promise<R> {
    let lane = this.lanes.get(key);
    if (!lane) {
      lane = { tail: Promise.resolve(), pending: 0 };
      this.lanes.set(key, lane);
    }
    const current = lane;
    current.pending++;
    // A failed task must not stop the ones behind it, so the chain runs on
    // whether the previous task resolved or rejected.
    const result = current.tail.then(task);
    current.tail = result.then(ignore, ignore).then(() => {
      if (--current.pending === 0 && this.lanes.get(key) === current) {
        this.lanes.delete(key);
        if (this.lanes.size === 0) this.wakeIdle();
      }
    });
    return result;
  }

  /** Resolves once every task queued so far, and any they queue, has finished. */
  drain(): Promise<void> {
    if (this.lanes.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private wakeIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const wake of waiters) wake();
  }

  /** Keys with queued or running tasks. */
  get size(): number {
    return this.lanes.size;
  }
}
