/** Listeners of one kind of event: each is called in turn, and one that throws does not stop the rest. */
export class Listeners<T> {
  private readonly listeners = new Set<(event: T) => void>();

  /** `onThrow` hears what a listener threw (the node logs it). */
  constructor(private readonly onThrow: (err: unknown) => void) {}

  /** Adds listener until the returned function is called. */
  add(listener: (event: T) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Calls every listener with event. */
  emit(event: T): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        this.onThrow(err);
      }
    }
  }
}
