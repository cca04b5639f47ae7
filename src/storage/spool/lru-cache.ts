// A bounded least-recently-used cache. A Map iterates in insertion order, so
// re-inserting on every hit keeps the least recently used entry first.
export class LruCache<K, V> {
  private readonly entries = new Map<K, V>();

  /** capacity 0 caches nothing. */
  constructor(readonly capacity: number) {}

  /** The value, or undefined on a miss. */
  get(key: K): V | undefined {
    const value = this.entries.get(key);
    if (value === undefined) return undefined;
    this.entries.delete(key);
    this.entries.set(key, value);
    return value;
  }

  set(key: K, value: V): void {
    if (this.capacity <= 0) return;
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
  }

  delete(key: K): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
