/** Per-listener counters of the UDP data path. */
export class UdpListenerCounters {
  datagramsIn = 0;
  datagramsOut = 0;
  bytesIn = 0;
  bytesOut = 0;
  flowsOpened = 0;
  /** Flows closed after `timeouts.idle` without datagrams. */
  flowsExpired = 0;
  /** Flows closed to respect `maxFlows` or the process's flow budget (the oldest idle one goes). */
  flowsEvicted = 0;
  /** Of `flowsEvicted`: those closed for the process-wide flow budget (the open-file limit). */
  flowsEvictedAtLimit = 0;
  /** New flows refused at the process-wide flow budget (no flow of this listener to evict). */
  flowsRefusedAtLimit = 0;
  /** Flows ended by an unexpected throw in one of their callbacks (a bug, logged with its code). */
  internalErrors = 0;
  /** Flows closed because the member answered "port unreachable" (a passive failure). */
  flowsRefused = 0;
  /** Flows moved to another member because theirs went unhealthy. */
  flowsRedispatched = 0;
  /** Datagrams dropped because no member was eligible (docs/udp.md, Failures). */
  noMember = 0;
  /** Other dropped datagrams: not accepting, no pool, queue full while connecting, socket errors. */
  drops = 0;
}
