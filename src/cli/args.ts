import { parseArgs } from "node:util";
import {
  DEFAULT_GATEWAY_CONTROLLER,
  DEFAULT_INGRESS_CLASSES,
  DEFAULT_LOAD_BALANCER_CLASS,
} from "../control/k8s/classes.js";
import { LOG_LEVELS, type LogLevel } from "../core/log.js";
import type { ControllerRunOptions } from "../runtime/kubernetes-main.js";
import { parseStateStoreUrl } from "../store/state-store-url.js";

export type Command = "run" | "validate" | "demo" | "help" | "version";

/** The flags that set up the Kubernetes controller, as `runController` reads them. */
type ControllerFlags = Pick<
  ControllerRunOptions,
  | "kubeconfig"
  | "namespace"
  | "ingressClasses"
  | "loadBalancerClass"
  | "gatewayClassController"
  | "listenAddress"
  | "publishAddress"
  | "publishService"
  | "leaderElect"
  | "metricsAddress"
>;

export interface CliOptions extends ControllerFlags {
  readonly command: Command;
  readonly files: string[];
  readonly kubernetes: boolean;
  readonly cookieSecretFile?: string;
  /** undefined: from the configuration or the default; "off": no admin listener. */
  readonly admin?: { address: string; port: number } | "off";
  readonly adminTokenFile?: string;
  readonly logLevel: LogLevel;
  readonly drainTimeout: string;
  readonly stateDir?: string;
  /** `--state-store URL`; wins over `spec.stateStore.url`. Its form is checked here. */
  readonly stateStore?: string;
  readonly watch: boolean;
  readonly workers: string;
  /** validate: print the effective configuration as native YAML. */
  readonly print: boolean;
  /** Where TCP and UDP listeners run: in this process, or programmed into the kernel (kernel-dataplane.md). */
  readonly l4Dataplane: L4Dataplane;
  /** The nftables table the kernel plane owns (`inet NAME`). */
  readonly nftTable: string;
}

export type L4Dataplane = "userspace" | "nftables";

/** An nft identifier: letters, digits, `_`; starts with a letter; short enough for every nft version. */
const NFT_TABLE_NAME = /^[A-Za-z][A-Za-z0-9_]{0,31}$/;

export class UsageError extends Error {}

export const USAGE = `stickylb — a load balancer with sticky sessions

Usage:
  stickylb run -f PATH [-f PATH…]        run from YAML files or folders
  stickylb run --kubernetes [--kubeconfig F] [--namespace NS] [--ingress-class NAME…]
  stickylb validate -f PATH [-f PATH…]   check configuration, print every problem (exit 0 valid, 2 invalid)
  stickylb validate --print -f PATH…     also print the effective configuration as native YAML
  stickylb demo                          start demo backends and one listener of every kind
  stickylb --help | --version

Flags of run:
  -f, --file PATH            a YAML file (several documents allowed) or a folder of them; repeatable
  --listen-address ADDR      address of listeners made from Kubernetes objects (default 0.0.0.0)
  --publish-address ADDR     controller mode: IP written to status.loadBalancer.ingress
  --admin ADDR:PORT|off      admin API listener (default 127.0.0.1:9901)
  --admin-token-file F       bearer token required when the admin listener is not on loopback
  --metrics-address ADDR:PORT  a read-only listener with /metrics, /healthz, /readyz (no token)
  --cookie-secret-file F     the HTTP_COOKIE key from a file (at least 32 bytes; e.g. a mounted Secret)

Flags of run --kubernetes:
  --ingress-class NAME       Ingress class served; repeatable (default stickylb and cce)
  --load-balancer-class C    spec.loadBalancerClass served, besides none (default stickylb.io/stickylb)
  --gateway-class-controller C  GatewayClass controllerName served (default stickylb.io/gateway-controller)
  --publish-service NS/NAME  write the status.loadBalancer of that Service on the objects served
  --leader-elect=true|false  one replica (the Lease holder) writes status and Events (default true;
                             --no-leader-elect is --leader-elect=false)
  --log-level LEVEL          fatal, error, warn, info, debug, trace, silent (default info)
  --drain-timeout DURATION   how long open connections may finish on stop or removal (default 30s)
  --state-dir DIR            where a generated cookie key is kept (default $XDG_STATE_HOME/stickylb)
  --state-store URL          share bindings and the cookie key through Redis/Valkey: redis://[user:pass@]host:port[/db],
                             rediss://…, redis+cluster://host:port[,host:port…] (wins over spec.stateStore.url)
  --watch                    reload when a configuration file changes
  --workers N|auto           worker processes sharing the listeners (default 1)
  --l4-dataplane userspace|nftables
                             where TCP/UDP listeners run: this process (default) or the kernel
  --nft-table NAME           the nftables table of the kernel plane (default stickylb, family inet)

Signals: SIGHUP reloads the files; SIGTERM/SIGINT drain and exit 0.
Exit codes: 0 clean stop or valid, 2 invalid configuration, 1 other fatal error.`;

/** Parses `stickylb …` arguments; throws UsageError with a message that says what is accepted. */
export function parseCli(argv: readonly string[]): CliOptions {
  const { values, positionals } = (() => {
    try {
      return parseArgs({
        args: argv.map(switchForm),
        allowPositionals: true,
        strict: true,
        options: {
          file: { type: "string", short: "f", multiple: true },
          kubernetes: { type: "boolean" },
          kubeconfig: { type: "string" },
          namespace: { type: "string" },
          "ingress-class": { type: "string", multiple: true },
          "load-balancer-class": { type: "string" },
          "gateway-class-controller": { type: "string" },
          "publish-service": { type: "string" },
          "leader-elect": { type: "boolean" },
          "no-leader-elect": { type: "boolean" },
          "metrics-address": { type: "string" },
          "cookie-secret-file": { type: "string" },
          "listen-address": { type: "string" },
          "publish-address": { type: "string" },
          admin: { type: "string" },
          "admin-token-file": { type: "string" },
          "log-level": { type: "string" },
          "drain-timeout": { type: "string" },
          "state-dir": { type: "string" },
          "state-store": { type: "string" },
          watch: { type: "boolean" },
          print: { type: "boolean" },
          workers: { type: "string" },
          "l4-dataplane": { type: "string" },
          "nft-table": { type: "string" },
          help: { type: "boolean", short: "h" },
          version: { type: "boolean", short: "v" },
        },
      });
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  })();
  let command: Command;
  if (values.help) command = "help";
  else if (values.version) command = "version";
  else {
    const word = positionals[0];
    if (word === undefined) throw new UsageError("a command is required: run, validate or demo");
    if (word !== "run" && word !== "validate" && word !== "demo" && word !== "help" && word !== "version") {
      throw new UsageError(`unknown command "${word}" (accepted: run, validate, demo, --help, --version)`);
    }
    command = word;
    if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}"`);
  }
  const files = values.file ?? [];
  const kubernetes = values.kubernetes ?? false;
  if (command === "validate" && files.length === 0)
    throw new UsageError("validate needs at least one -f PATH");
  if (values.print === true && command !== "validate")
    throw new UsageError("--print is a flag of validate (stickylb validate --print -f PATH)");
  if (command === "run" && files.length === 0 && !kubernetes) {
    throw new UsageError("run needs -f PATH (one or more) or --kubernetes");
  }
  const logLevel = values["log-level"] ?? "info";
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new UsageError(`--log-level ${logLevel} is not accepted (one of ${LOG_LEVELS.join(", ")})`);
  }
  const stateStore = values["state-store"];
  if (stateStore !== undefined) {
    const parsed = parseStateStoreUrl(stateStore);
    if (!parsed.ok) throw new UsageError(`--state-store ${parsed.message}`);
  }
  const l4Dataplane = values["l4-dataplane"] ?? "userspace";
  if (l4Dataplane !== "userspace" && l4Dataplane !== "nftables")
    throw new UsageError(`--l4-dataplane ${l4Dataplane} is not accepted (userspace or nftables)`);
  const nftTable = values["nft-table"] ?? "stickylb";
  if (!NFT_TABLE_NAME.test(nftTable))
    throw new UsageError(
      `--nft-table ${JSON.stringify(nftTable)} is not accepted (a letter, then up to 31 letters, digits or _)`,
    );
  return {
    command,
    files,
    l4Dataplane,
    nftTable,
    kubernetes,
    kubeconfig: values.kubeconfig,
    namespace: values.namespace,
    ingressClasses: values["ingress-class"] ?? DEFAULT_INGRESS_CLASSES,
    loadBalancerClass: values["load-balancer-class"] ?? DEFAULT_LOAD_BALANCER_CLASS,
    gatewayClassController: values["gateway-class-controller"] ?? DEFAULT_GATEWAY_CONTROLLER,
    listenAddress: values["listen-address"] ?? "0.0.0.0",
    publishAddress: values["publish-address"],
    ...(values["publish-service"] === undefined
      ? {}
      : { publishService: parsePublishService(values["publish-service"]) }),
    leaderElect: values["no-leader-elect"] !== true,
    ...(values["metrics-address"] === undefined
      ? {}
      : { metricsAddress: parseAddressPort("--metrics-address", values["metrics-address"]) }),
    cookieSecretFile: values["cookie-secret-file"],
    admin: values.admin === undefined ? undefined : parseAdmin(values.admin),
    adminTokenFile: values["admin-token-file"],
    logLevel: logLevel as LogLevel,
    drainTimeout: values["drain-timeout"] ?? "30s",
    stateDir: values["state-dir"],
    stateStore,
    watch: values.watch ?? false,
    workers: values.workers ?? "1",
    print: values.print ?? false,
  };
}

function parseAdmin(text: string): { address: string; port: number } | "off" {
  if (text === "off") return "off";
  return parseAddressPort("--admin", text, "or off");
}

/** `--leader-elect=false` (the form Kubernetes controllers use) as the `--no-leader-elect` switch. */
function switchForm(arg: string): string {
  if (!arg.startsWith("--leader-elect=")) return arg;
  const value = arg.slice("--leader-elect=".length);
  if (value === "true") return "--leader-elect";
  if (value === "false") return "--no-leader-elect";
  throw new UsageError(`${arg} is not accepted (--leader-elect=true or --leader-elect=false)`);
}

function parsePublishService(text: string): { namespace: string; name: string } {
  const [namespace, name, extra] = text.split("/");
  if (namespace === undefined || namespace === "" || name === undefined || name === "" || extra !== undefined)
    throw new UsageError(`--publish-service ${text} is not accepted (NAMESPACE/NAME of a Service)`);
  return { namespace, name };
}

function parseAddressPort(flag: string, text: string, alternative = ""): { address: string; port: number } {
  const colon = text.lastIndexOf(":");
  const host = text.slice(0, colon).replace(/^\[(.*)\]$/, "$1");
  const port = Number(text.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
    const or = alternative === "" ? "" : `, ${alternative}`;
    throw new UsageError(`${flag} ${text} is not accepted (ADDRESS:PORT, e.g. 127.0.0.1:9901${or})`);
  }
  return { address: host, port };
}
