/**
 * The one table of stable error codes (docs/architecture.md). Every code is listed in docs/errors.md;
 * test/unit/errors-table.test.ts keeps the two in step. Codes are never renamed or reused.
 */
export const ERROR_CODES = {
  SLB_ERR_CLI_USAGE: "The command line is not understood (unknown command or flag, missing value).",
  SLB_ERR_CONFIG_INVALID: "A configuration problem: a field's value, a missing field, or a clash.",
  SLB_ERR_CONFIG_READ: "A configuration file or folder could not be read.",
  SLB_ERR_CONFIG_YAML: "A configuration file is not well-formed YAML.",
  SLB_ERR_CONFIG_UNKNOWN_KIND: "A document's apiVersion and kind are not one that stickylb reads.",
  SLB_ERR_CONFIG_UNKNOWN_FIELD:
    "A field that the format does not have (often a typo); the message lists the accepted ones.",
  SLB_ERR_CONFIG_CLASH:
    "Two entries clash: a duplicate name, a duplicate member, or two listeners on one protocol family, address and port.",
  SLB_ERR_CONFIG_REFERENCE:
    "A reference to a pool that does not exist, or to a pool that the listener cannot use.",
  SLB_ERR_CONFIG_TLS_FILE:
    "A certificate or key file named by the configuration cannot be read, or is not a usable certificate and key.",
  SLB_ERR_COOKIE_SECRET:
    "The cookie key is unusable: cookieSecret is too short or its variable unset, the --cookie-secret-file is unreadable or shorter than 32 bytes, or the key file in the state folder is damaged or cannot be written.",
  SLB_ERR_K8S_ANNOTATION:
    "A kubernetes.io/elb.* annotation has an unknown value, bad JSON or a number out of range.",
  SLB_ERR_K8S_OBJECT:
    "A Kubernetes Service or Ingress field that stickylb cannot serve (port, path, host, name).",
  SLB_ERR_K8S_REFERENCE: "A Kubernetes object names a Secret or Service that is missing or unusable.",
  SLB_ERR_K8S_NO_EFFECT:
    "A warning: an annotation or option that has no effect here (cloud-only, or not read on this object).",
  SLB_ERR_K8S_API:
    "The Kubernetes API could not be listed, watched or written (status, Events, the leader election Lease); the controller retries.",
  SLB_ERR_ADMIN_TOKEN:
    "The admin listener is not on loopback and has no usable bearer token (--admin-token-file missing, unreadable or too short).",
  SLB_ERR_DATA_INTERNAL:
    "A bug on the data path: the one connection, flow or request it happened in was ended; counted in stickylb_internal_errors_total.",
  SLB_ERR_DATA_CONNECT:
    "A member refused or did not accept a connection in time; the client was retried on another member or refused.",
  SLB_ERR_DATA_NO_MEMBER:
    "No member of the pool may take a new client: HTTP 503, TCP close, UDP datagram dropped.",
  SLB_ERR_DATA_MEMBER_TIMEOUT: "A member stayed silent past timeouts.member: HTTP 504.",
  SLB_ERR_DATA_BAD_RESPONSE:
    "A member answered something that is not valid HTTP/1.1, or broke its response: HTTP 502 or a cut connection.",
  SLB_ERR_DATA_BAD_REQUEST: "A client request was refused as malformed or ambiguous (HTTP 400, 431).",
  SLB_ERR_DATA_PROXY_HEADER:
    "A connection's PROXY protocol header was missing or malformed; the connection was closed.",
  SLB_ERR_DATA_LIMIT:
    "A warning: a process-wide bound derived from the open-file limit (UDP flows, client connections) was reached; new entries evict the oldest idle one or are refused, counted in stickylb_limit_reached_total.",
  SLB_ERR_DATA_BIND:
    "A listener could not bind its address and port (in use, permission denied, address not available); it is retried with backoff while every other listener serves.",
  SLB_ERR_KERNEL_ENVIRONMENT:
    "--l4-dataplane nftables cannot run here: the nft command (>= 1.0), CAP_NET_ADMIN or nf_tables is missing; the message says which.",
  SLB_ERR_KERNEL_NFT:
    "nft refused a transaction of the kernel data plane; the rules in the kernel are unchanged.",
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** An error that carries a stable code; the control path throws these, the data path counts them. */
export class StickyError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "StickyError";
  }
}
