import type { Socket } from "node:net";

/**
 * Client addresses carried by a PROXY protocol header, by the accepted socket. A WeakMap keeps it
 * off the socket object and forgets it with the socket.
 */
const carried = new WeakMap<object, string>();

export function setCarriedClientAddress(socket: Socket, address: string): void {
  carried.set(socket, address);
}

/**
 * The client's address as stickiness and X-Forwarded-For must see it: the one carried by a PROXY
 * header when the listener expects one, else the socket's peer. A TLS socket is looked up through
 * the TCP socket it wraps (`_parent`, set by node:tls for server-side sockets).
 */
export function clientAddressOf(socket: Socket): string | undefined {
  const own = carried.get(socket);
  if (own !== undefined) return own;
  const parent = (socket as Socket & { _parent?: object })._parent;
  return (parent === undefined ? undefined : carried.get(parent)) ?? socket.remoteAddress;
}
