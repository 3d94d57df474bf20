import * as http from "node:http";
import type { MemberId } from "../../core/member.js";

/**
 * Free keep-alive sockets are closed after this idle time: below the 5 s `keepAliveTimeout` of
 * Node servers and most defaults, so that we close an idle connection before the member does and
 * rarely send a request on a socket the member is closing.
 */
export const DEFAULT_UPSTREAM_IDLE_MS = 4000;

/**
 * Pooled keep-alive connections towards members, one `http.Agent` per member, keyed by
 * {@link MemberId} so that a reload keeps the warm connections of members that stay (STYLE
 * point 3). The agent pools by host and port anyway; one agent per member keeps each member's
 * pool separate and lets a removed member's sockets be closed without touching the others.
 */
export class HttpAgents {
  private readonly agents = new Map<MemberId, http.Agent>();

  constructor(private readonly idleMs = DEFAULT_UPSTREAM_IDLE_MS) {}

  agentFor(member: { readonly id: MemberId }): http.Agent {
    let agent = this.agents.get(member.id);
    if (agent === undefined) {
      agent = new http.Agent({
        keepAlive: true,
        // Applied to free sockets by Agent#keepSocketAlive; requests set their own timeouts.
        timeout: this.idleMs,
        maxFreeSockets: 256,
        scheduling: "lifo",
      });
      this.agents.set(member.id, agent);
    }
    return agent;
  }

  /**
   * Forgets the agents of members not in `keep` (called after a reload) and closes their idle
   * connections. Requests still in flight on them finish: a removed member drains (SPEC 6.8), and
   * its sockets, once free, close after the idle time.
   */
  retain(keep: ReadonlySet<MemberId>): void {
    for (const [id, agent] of this.agents) {
      if (keep.has(id)) continue;
      for (const sockets of Object.values(agent.freeSockets)) for (const s of sockets ?? []) s.destroy();
      this.agents.delete(id);
    }
  }

  get size(): number {
    return this.agents.size;
  }

  destroyAll(): void {
    for (const agent of this.agents.values()) agent.destroy();
    this.agents.clear();
  }
}

/** One set of pools for the whole process: every HTTP listener forwards through it. */
export const sharedHttpAgents = new HttpAgents();
