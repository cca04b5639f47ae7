// A small typed event bus with priorities, after Prosody's module:hook. Handlers
// run from the highest priority down; a handler that returns true (or a promise of
// true) has handled the event and stops the chain.

export type Handler<E> = (event: E) => boolean | void | Promise<boolean | void>;

interface Entry<E> { handler: Handler<E>; priority: number }

export class EventBus<E> {
  private readonly handlers = new Map<string, Entry<E>[]>();

  on(name: string, handler: Handler<E>, priority = 0): () => void {
    const list = this.handlers.get(name) ?? [];
    list.push({ handler, priority });
    // Stable sort: equal priorities keep registration order.
    list.sort((a, b) => b.priority - a.priority);
    this.handlers.set(name, list);
    return () => {
      const current = this.handlers.get(name);
      if (!current) return;
      const i = current.findIndex((e) => e.handler === handler);
      if (i >= 0) current.splice(i, 1);
      if (current.length === 0) this.handlers.delete(name);
    };
  }

  has(name: string): boolean {
    return this.handlers.has(name);
  }

  /**
   * Runs the handlers of `name` in order. Returns true if one handled the event.
   * Stays synchronous while every handler is, so the hot path allocates no promises.
   */
  fire(name: string, event: E): boolean | Promise<boolean> {
    const list = this.handlers.get(name);
    if (!list) return false;
    return runFrom(list.slice(), 0, event);
  }
}

function runFrom<E>(list: Entry<E>[], start: number, event: E): boolean | Promise<boolean> {
  for (let i = start; i < list.length; i++) {
    const r = list[i]!.handler(event);
    if (r === true) return true;
    if (r instanceof Promise) {
      return r.then((handled) => (handled === true ? true : runFrom(list, i + 1, event)));
    }
  }
  return false;
}
