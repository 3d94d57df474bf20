/** `HOST:PORT` command-line arguments of the benchmark peers and tools. */
export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

export function parseEndpoint(text: string): Endpoint {
  const colon = text.lastIndexOf(":");
  const port = Number(text.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port) || port < 1 || port > 65535)
    throw new Error(`${text}: expected HOST:PORT`);
  return { host: text.slice(0, colon), port };
}

export function parseEndpoints(text: string): Endpoint[] {
  return text.split(",").map(parseEndpoint);
}

/** The value following `--name` in argv, or the fallback. */
export function option(argv: readonly string[], name: string, fallback?: string): string {
  const at = argv.indexOf(`--${name}`);
  const value = at >= 0 ? argv[at + 1] : fallback;
  if (value === undefined) throw new Error(`missing --${name}`);
  return value;
}

/** Every value following a repeated `--name`. */
export function options(argv: readonly string[], name: string): string[] {
  const values: string[] = [];
  argv.forEach((arg, i) => {
    const next = argv[i + 1];
    if (arg === `--${name}` && next !== undefined) values.push(next);
  });
  return values;
}

/** FNV-1a of a string: the naive peers' stand-in for a source-address hash. */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
