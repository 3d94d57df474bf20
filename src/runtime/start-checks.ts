/**
 * What `run` refuses at start beyond the configuration's own validation, checked by one routine
 * that `run` and `validate` both call, so that `validate` accepts exactly what `run` starts:
 *
 * - the admin listener: off loopback it needs a readable bearer token file;
 * - the cookie key of `HTTP_COOKIE` pools: `cookieSecret` must give at least 32 bytes (an `env`
 *   that is unset is refused), and a stored generated key must not be damaged.
 *
 * Nothing is created or bound here: a generated key that does not exist yet is made by `run`.
 */
import { adminToken } from "../admin/auth.js";
import { type ConfigModel, carriesToken } from "../core/model.js";
import { StickyError } from "../errors/codes.js";
import { checkCookieKey } from "./cookie-key.js";

export const DEFAULT_ADMIN = { address: "127.0.0.1", port: 9901 } as const;

export type AdminAt = { readonly address: string; readonly port: number } | "off";

export interface StartCheckOptions {
  /** The `--admin` flag, when given (it wins over `spec.admin`). */
  readonly admin?: AdminAt;
  readonly adminTokenFile?: string;
  readonly stateDir: string;
  readonly env?: NodeJS.ProcessEnv;
}

export interface StartCheck {
  /** One line each, `SLB_ERR_…: message`; empty when `run` would start. */
  readonly problems: string[];
  /** Where the admin listener goes. */
  readonly admin: AdminAt;
  /** The bearer token it requires, if any. */
  readonly adminToken?: string;
}

function problemOf(e: unknown): string {
  if (e instanceof StickyError) return `${e.code}: ${e.message}`;
  throw e;
}

/** Checks a validated configuration as `run` would at start. */
export function checkStart(model: ConfigModel, options: StartCheckOptions): StartCheck {
  const problems: string[] = [];
  const admin: AdminAt = options.admin ?? model.admin ?? DEFAULT_ADMIN;
  let token: string | undefined;
  try {
    token = admin === "off" ? undefined : adminToken(admin.address, options.adminTokenFile);
  } catch (e) {
    problems.push(problemOf(e));
  }
  if (model.pools.some((p) => carriesToken(p.sessionPersistence))) {
    try {
      checkCookieKey(model.cookieSecret, options.stateDir, options.env);
    } catch (e) {
      problems.push(problemOf(e));
    }
  }
  return { problems, admin, ...(token === undefined ? {} : { adminToken: token }) };
}
