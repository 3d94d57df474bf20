/**
 * Network namespaces for kernel data-plane tests: a client, a load balancer and a backend
 * namespace joined by veth pairs, with addresses and routes only inside them. The root namespace's
 * rules and routes are never touched. Every lab is deleted by `destroy()` (call it in afterAll and
 * on any failure of `createLab`); namespace names carry the pid so parallel runs never meet.
 *
 *   client ns  10.77.1.10… ── veth ── 10.77.1.1  LB ns  10.77.2.1 ── veth ── 10.77.2.10…  backend ns
 *                                     VIP 10.77.0.1 on lo
 *
 * The same in IPv6, with unique local addresses (fd00::/8) added `nodad` so they work at once
 * (no duplicate address detection delay): clients fd00:77:1::10…, LB fd00:77:1::1 and
 * fd00:77:2::1, VIP fd00:77::1 on lo, backends fd00:77:2::10….
 */
import { execFile, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export const VIP = "10.77.0.1";
export const VIP6 = "fd00:77::1";
export const BACKEND_PORT = 9000;

/** Why kernel tests cannot run here, or undefined when they can (root, `ip`, `nft`). */
export function netnsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return "kernel data-plane tests need root (network namespaces and nf_tables)";
  for (const [program, arg] of [
    ["ip", "-V"],
    ["nft", "--version"],
  ] as const) {
    const probe = spawnSync(program, [arg], { stdio: "ignore" });
    if (probe.error !== undefined || probe.status !== 0)
      return `kernel data-plane tests need the ${program} command (install ${program === "ip" ? "iproute2" : "nftables"})`;
  }
  return undefined;
}

export interface Lab {
  readonly client: string;
  readonly lb: string;
  readonly backend: string;
  readonly clientAddresses: readonly string[];
  readonly backendAddresses: readonly string[];
  /** IPv6 client and backend addresses, as many as the IPv4 ones. */
  readonly clientAddresses6: readonly string[];
  readonly backendAddresses6: readonly string[];
  /** The command prefix that runs a program inside a namespace. */
  inside(ns: string, command: readonly string[]): string[];
  /** Runs clients inside the client namespace; see CLIENT_SCRIPT for the shape. */
  clients(requests: readonly ClientRequest[]): Promise<ClientAnswer[]>;
  destroy(): void;
}

export interface ClientRequest {
  readonly source: string;
  readonly protocol: "tcp" | "udp";
  readonly port: number;
  readonly address?: string;
  /** TCP: after the first line, send this many bytes and wait until the member has echoed them all. */
  readonly bulkBytes?: number;
}

/** What a backend answered: its own `ADDRESS:PORT` and the client address it saw; error if none. */
export interface ClientAnswer {
  readonly source: string;
  readonly member?: string;
  readonly seenFrom?: string;
  /** UDP: the address the reply came from (must be the listener's). */
  readonly replyFrom?: string;
  readonly error?: string;
  /** Bytes echoed back (bulk requests). */
  readonly echoed?: number;
}

let labs = 0;

/** Creates the three namespaces and starts a TCP and UDP backend on every backend address. */
export async function createLab(clientCount: number, backendCount: number): Promise<Lab> {
  const id = `${process.pid}x${labs++}`;
  const client = `slbc-${id}`;
  const lb = `slblb-${id}`;
  const backend = `slbb-${id}`;
  const clientAddresses = Array.from({ length: clientCount }, (_, i) => `10.77.1.${10 + i}`);
  const backendAddresses = Array.from({ length: backendCount }, (_, i) => `10.77.2.${10 + i}`);
  const clientAddresses6 = Array.from(
    { length: clientCount },
    (_, i) => `fd00:77:1::${(10 + i).toString(16)}`,
  );
  const backendAddresses6 = Array.from(
    { length: backendCount },
    (_, i) => `fd00:77:2::${(10 + i).toString(16)}`,
  );
  const dir = mkdtempSync(join(tmpdir(), "slb-netns-"));
  writeFileSync(join(dir, "backend.mjs"), BACKEND_SCRIPT);
  writeFileSync(join(dir, "client.mjs"), CLIENT_SCRIPT);
  const inside = (ns: string, command: readonly string[]) => ["ip", "netns", "exec", ns, ...command];
  const children: ReturnType<typeof spawn>[] = [];
  const destroy = () => {
    for (const child of children) child.kill("SIGKILL");
    for (const ns of [client, lb, backend]) spawnSync("ip", ["netns", "delete", ns], { stdio: "ignore" });
  };
  const sh = async (ns: string | undefined, ...args: string[]) => {
    const [program, ...rest] = ns === undefined ? args : inside(ns, args);
    await run(program!, rest);
  };
  // Short veth names (15 bytes at most), unique per lab; created inside the LB namespace.
  const [vc, vlc, vlb, vb] = ["c", "l", "m", "b"].map((p) => `v${p}${process.pid % 100000}${labs}`);
  try {
    for (const ns of [client, lb, backend]) await sh(undefined, "ip", "netns", "add", ns);
    for (const ns of [client, lb, backend]) await sh(ns, "ip", "link", "set", "lo", "up");
    await sh(lb, "ip", "link", "add", vlc!, "type", "veth", "peer", "name", vc!, "netns", client);
    await sh(lb, "ip", "link", "add", vlb!, "type", "veth", "peer", "name", vb!, "netns", backend);
    await sh(lb, "ip", "addr", "add", "10.77.1.1/24", "dev", vlc!);
    await sh(lb, "ip", "addr", "add", "10.77.2.1/24", "dev", vlb!);
    await sh(lb, "ip", "addr", "add", `${VIP}/32`, "dev", "lo");
    await sh(lb, "ip", "link", "set", vlc!, "up");
    await sh(lb, "ip", "link", "set", vlb!, "up");
    await sh(lb, "sysctl", "-qw", "net.ipv4.ip_forward=1");
    await sh(lb, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1");
    await sh(lb, "ip", "-6", "addr", "add", "fd00:77:1::1/64", "dev", vlc!, "nodad");
    await sh(lb, "ip", "-6", "addr", "add", "fd00:77:2::1/64", "dev", vlb!, "nodad");
    await sh(lb, "ip", "-6", "addr", "add", `${VIP6}/128`, "dev", "lo", "nodad");
    for (const a of clientAddresses) await sh(client, "ip", "addr", "add", `${a}/24`, "dev", vc!);
    await sh(client, "ip", "link", "set", vc!, "up");
    await sh(client, "ip", "route", "add", "default", "via", "10.77.1.1");
    for (const a of clientAddresses6)
      await sh(client, "ip", "-6", "addr", "add", `${a}/64`, "dev", vc!, "nodad");
    await sh(client, "ip", "-6", "route", "add", "default", "via", "fd00:77:1::1");
    for (const a of backendAddresses) await sh(backend, "ip", "addr", "add", `${a}/24`, "dev", vb!);
    await sh(backend, "ip", "link", "set", vb!, "up");
    await sh(backend, "ip", "route", "add", "default", "via", "10.77.2.1");
    for (const a of backendAddresses6)
      await sh(backend, "ip", "-6", "addr", "add", `${a}/64`, "dev", vb!, "nodad");
    await sh(backend, "ip", "-6", "route", "add", "default", "via", "fd00:77:2::1");
    const [program, ...args] = inside(backend, [
      process.execPath,
      join(dir, "backend.mjs"),
      String(BACKEND_PORT),
      ...backendAddresses,
      ...backendAddresses6,
    ]);
    const server = spawn(program!, args, { stdio: ["ignore", "pipe", "inherit"] });
    children.push(server);
    await new Promise<void>((resolve, reject) => {
      server.once("exit", (code) => reject(new Error(`backends exited with ${code}`)));
      server.stdout!.once("data", () => resolve());
    });
  } catch (error) {
    destroy();
    throw error;
  }
  return {
    client,
    lb,
    backend,
    clientAddresses,
    backendAddresses,
    clientAddresses6,
    backendAddresses6,
    inside,
    destroy,
    async clients(requests) {
      const [program, ...args] = inside(client, [process.execPath, join(dir, "client.mjs")]);
      const child = spawn(program!, args, { stdio: ["pipe", "pipe", "inherit"] });
      const out: Buffer[] = [];
      child.stdout.on("data", (c: Buffer) => out.push(c));
      child.stdin.end(JSON.stringify(requests.map((r) => ({ address: VIP, ...r }))));
      await new Promise((resolve) => child.on("close", resolve));
      return JSON.parse(Buffer.concat(out).toString()) as ClientAnswer[];
    },
  };
}

/**
 * Backends: on each address, a TCP server that writes `ADDRESS:PORT CLIENT\n` on connect and then
 * echoes, and a UDP server that answers each datagram with the same line. Prints "ready".
 */
const BACKEND_SCRIPT = `
import net from "node:net";
import dgram from "node:dgram";
const [port, ...addresses] = process.argv.slice(2);
let pending = addresses.length * 2;
const ready = () => { if (--pending === 0) process.stdout.write("ready\\n"); };
for (const address of addresses) {
  net.createServer((s) => { s.on("error", () => {}); s.write(address + ":" + port + " " + s.remoteAddress + "\\n"); s.pipe(s); })
    .listen(Number(port), address, ready);
  const u = dgram.createSocket(address.includes(":") ? "udp6" : "udp4");
  u.on("message", (msg, rinfo) => u.send(address + ":" + port + " " + rinfo.address + "\\n", rinfo.port, rinfo.address));
  u.bind(Number(port), address, ready);
}
`;

/**
 * Clients: reads a JSON array of {source, protocol, port, address} on stdin, makes each request
 * from its source address (16 at a time), prints a JSON array of answers in the same order.
 */
const CLIENT_SCRIPT = `
import net from "node:net";
import dgram from "node:dgram";
const input = JSON.parse(await new Promise((r) => { let s = ""; process.stdin.on("data", (c) => s += c); process.stdin.on("end", () => r(s)); }));
const parse = (line) => { const [member, seenFrom] = line.trim().split(" "); return { member, seenFrom }; };
function tcp(q) {
  return new Promise((resolve) => {
    const s = net.connect({ host: q.address, port: q.port, localAddress: q.source });
    let data = "";
    const done = (answer) => { s.destroy(); resolve({ source: q.source, ...answer }); };
    s.setTimeout(3000, () => done({ error: "timeout" }));
    let echoed = -1;
    s.on("data", (c) => {
      if (echoed >= 0) { echoed += c.length; if (echoed >= q.bulkBytes) done({ ...parse(data), echoed }); return; }
      data += c;
      if (!data.includes("\\n")) return;
      if (!q.bulkBytes) return done(parse(data));
      data = data.slice(0, data.indexOf("\\n"));
      echoed = 0;
      s.setTimeout(60000);
      const chunk = Buffer.alloc(65536, 120);
      let sent = 0;
      const pump = () => { while (sent < q.bulkBytes) { sent += chunk.length; if (!s.write(chunk)) return s.once("drain", pump); } };
      pump();
    });
    s.on("error", (e) => done({ error: e.code ?? e.message }));
  });
}
function udp(q) {
  return new Promise((resolve) => {
    const s = dgram.createSocket(q.source.includes(":") ? "udp6" : "udp4");
    const done = (answer) => { clearTimeout(t); s.close(); resolve({ source: q.source, ...answer }); };
    const t = setTimeout(() => done({ error: "timeout" }), 3000);
    s.on("message", (msg, rinfo) => done({ ...parse(msg.toString()), replyFrom: rinfo.address }));
    s.on("error", (e) => done({ error: e.code ?? e.message }));
    s.bind(0, q.source, () => s.send("hello", q.port, q.address));
  });
}
const answers = new Array(input.length);
let next = 0;
async function worker() { while (next < input.length) { const i = next++; answers[i] = await (input[i].protocol === "udp" ? udp(input[i]) : tcp(input[i])); } }
await Promise.all(Array.from({ length: 16 }, worker));
process.stdout.write(JSON.stringify(answers));
`;
