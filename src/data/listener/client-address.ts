import type { Socket } from "node:net";

/**
 * The client addresses that PROXY protocol headers carried, by accepted socket; one per listener
 * (owned by it, gone with it). A WeakMap keeps the address off the socket object and forgets it
 * with the socket.
 */
export class CarriedAddresses {
  private readonly bySocket = new WeakMap<object, string>();

  set(socket: Socket, address: string): void {
    this.bySocket.set(socket, address);
  }

  /**
   * The client's address as stickiness and X-Forwarded-For must see it: the one carried by a PROXY
   * header when the listener expects one, else the socket's peer. A TLS socket is looked up through
   * the TCP socket it wraps (`_parent`, set by node:tls for server-side sockets).
   */
  of(socket: Socket): string | undefined {
    const own = this.bySocket.get(socket);
    if (own !== undefined) return own;
    const parent = (socket as Socket & { _parent?: object })._parent;
    return (parent === undefined ? undefined : this.bySocket.get(parent)) ?? socket.remoteAddress;
  }
}
