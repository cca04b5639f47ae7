// Stanzas from one stream are handled strictly in the order they arrived, even when
// handling one waits for storage. Work runs at once when nothing is waiting (no
// promise for the common synchronous case); otherwise it queues behind the tail.
export class OrderedWork {
  private tail: Promise<void> | null = null;

  /** `failed` gets whatever a piece of work threw or rejected with. */
  constructor(private readonly failed: (err: unknown) => void) {}

  /** Settles when everything queued so far is done; null when nothing is. */
  get pending(): Promise<void> | null {
    return this.tail;
  }

  run(work: () => void | Promise<void>): void {
    let r: void | Promise<void>;
    if (this.tail) {
      r = this.tail.then(work);
    } else {
      try {
        r = work();
      } catch (err) {
        this.failed(err);
        return;
      }
      if (!(r instanceof Promise)) return;
    }
    const p: Promise<void> = r.catch((err) => this.failed(err)).finally(() => {
      if (this.tail === p) this.tail = null;
    });
    this.tail = p;
  }
}
