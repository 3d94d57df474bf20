/**
 * The deadline order shared by the binding tables and the UDP flow tables: an intrusive doubly
 * linked list, O(1) append, unlink and move to the tail. The links live on the items themselves
 * (`prev`/`next`, declared by each item class so its shape stays fixed), so keeping the order
 * allocates nothing. Touching an item moves it to the tail; the head is then both the least
 * recently used item (the one to evict) and the earliest deadline (the one to expire).
 */

/** An item that can sit in one `DeadlineList` at a time. */
export interface DeadlineLinks<T> {
  prev: T | null;
  next: T | null;
}

export class DeadlineList<T extends DeadlineLinks<T>> {
  /** Least recently appended or moved: first to expire or be evicted. */
  head: T | null = null;
  tail: T | null = null;

  append(item: T): void {
    item.prev = this.tail;
    item.next = null;
    if (this.tail === null) this.head = item;
    else this.tail.next = item;
    this.tail = item;
  }

  unlink(item: T): void {
    if (item.prev === null) this.head = item.next;
    else item.prev.next = item.next;
    if (item.next === null) this.tail = item.prev;
    else item.next.prev = item.prev;
    item.prev = null;
    item.next = null;
  }

  moveToTail(item: T): void {
    if (this.tail === item) return;
    this.unlink(item);
    this.append(item);
  }
}
