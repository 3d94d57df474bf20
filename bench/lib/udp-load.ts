/**
 * UDP request/response load: CLIENTS sockets, each sending one datagram and waiting for the reply
 * before sending the next (a closed loop, like wrk's connections). Counts round trips per second
 * over DURATION seconds and their latency. A datagram unanswered after RETRY ms is counted lost and
 * its client replaced by a fresh socket (a new flow) that sends again: a drop stalls one client for
 * RETRY ms, not for ever, and a late reply to the old socket cannot be taken for the new request's
 * (the backends need not echo, so replies carry no sequence number to tell them apart).
 *
 *   node dist/bench/lib/udp-load.js --target 127.0.0.1:18084 --clients 64 --duration 5
 *   node dist/bench/lib/udp-load.js --target 127.0.0.1:18084 --probe     # exit 0 if answered
 *
 * Prints `RESULT <round trips/s> <p50 ms> <p99 ms> <lost>`.
 */
import * as dgram from "node:dgram";
import { performance } from "node:perf_hooks";
import { option, parseEndpoint } from "./endpoint.js";

const argv = process.argv;
const target = parseEndpoint(option(argv, "target"));
const clients = Number(option(argv, "clients", "64"));
const durationS = Number(option(argv, "duration", "5"));
const retryMs = Number(option(argv, "retry", "200"));
const payload = Buffer.alloc(32, 0x61);

interface Client {
  readonly socket: dgram.Socket;
  sentAt: number;
  live: boolean;
}

function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function openClient(onReply: (client: Client) => void): Promise<Client> {
  const socket = dgram.createSocket("udp4");
  const client: Client = { socket, sentAt: 0, live: true };
  socket.on("message", () => onReply(client));
  socket.on("error", () => undefined);
  await new Promise<void>((resolve) => socket.connect(target.port, target.host, resolve));
  return client;
}

async function probe(): Promise<never> {
  const timer = setTimeout(() => process.exit(1), 2000);
  const client = await openClient(() => {
    clearTimeout(timer);
    process.exit(0);
  });
  client.socket.send(payload);
  return new Promise<never>(() => undefined);
}

async function load(): Promise<void> {
  let latencies = new Float64Array(1 << 20);
  let count = 0;
  let lost = 0;
  let running = true;
  const send = (client: Client) => {
    client.sentAt = performance.now();
    client.socket.send(payload);
  };
  const onReply = (client: Client) => {
    if (!running || !client.live) return;
    if (count === latencies.length) {
      const grown = new Float64Array(latencies.length * 2);
      grown.set(latencies);
      latencies = grown;
    }
    latencies[count++] = performance.now() - client.sentAt;
    send(client);
  };
  const all: Client[] = [];
  for (let i = 0; i < clients; i++) all.push(await openClient(onReply));
  const started = performance.now();
  for (const client of all) send(client);
  const replace = async (at: number) => {
    const fresh = await openClient(onReply);
    if (!running) {
      fresh.socket.close();
      return;
    }
    all[at] = fresh;
    send(fresh);
  };
  const retry = setInterval(() => {
    const stale = performance.now() - retryMs;
    all.forEach((client, at) => {
      if (!client.live || client.sentAt >= stale) return;
      lost++;
      client.live = false;
      client.socket.close();
      void replace(at);
    });
  }, retryMs / 4);
  await new Promise((resolve) => setTimeout(resolve, durationS * 1000));
  running = false;
  const elapsedS = (performance.now() - started) / 1000;
  clearInterval(retry);
  for (const client of all) if (client.live) client.socket.close();
  const sorted = latencies.subarray(0, count).sort();
  const rate = count / elapsedS;
  console.log(
    `RESULT ${rate.toFixed(0)} ${quantile(sorted, 0.5).toFixed(3)} ${quantile(sorted, 0.99).toFixed(3)} ${lost}`,
  );
}

if (argv.includes("--probe")) await probe();
else await load();
