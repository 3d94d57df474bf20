import type { Logger } from "../core/log.js";
import { type MemberId, memberIdOf } from "../core/member.js";
import type { ConfigModel } from "../core/model.js";
import { type KernelDataPlane, kernelPlanOf } from "./kernel-data-plane.js";

/** The health the kernel plane follows: the member registry's view, and its change events. */
export interface HealthSource {
  get(id: MemberId): { readonly healthy: boolean } | undefined;
  onHealthChange(listener: () => void): void;
}

/**
 * KernelPlaneWiring connects a {@link KernelDataPlane} to a running process: the userspace runtime
 * gets the configuration without the listeners that the kernel serves, the kernel gets the whole
 * configuration and is re-programmed on every health change. A listener that stays in userspace is
 * warned about once per reason.
 */
export class KernelPlaneWiring {
  private model: ConfigModel | undefined;
  private readonly warned = new Set<string>();

  constructor(
    private readonly plane: KernelDataPlane,
    private readonly table: string,
    private readonly health: HealthSource,
    private readonly log: Logger,
  ) {
    health.onHealthChange(() => {
      if (this.model === undefined) return;
      this.program(this.model).catch((err: unknown) =>
        log.error({ err }, "could not re-program the kernel after a health change; the previous rules stay"),
      );
    });
  }

  /** The configuration the userspace runtime serves: every listener the kernel does not take. */
  userspaceModel(model: ConfigModel): ConfigModel {
    const { result } = kernelPlanOf(this.table, model, () => true);
    const kernel = new Set(result.kernel);
    return { ...model, listeners: model.listeners.filter((l) => !kernel.has(l.name)) };
  }

  /** Programs the kernel for a configuration (start and every reload); rejects if nft refuses it. */
  async apply(model: ConfigModel): Promise<void> {
    this.model = model;
    const result = await this.program(model);
    for (const { listener, reason } of result.userspace) {
      const key = `${listener}\n${reason}`;
      if (this.warned.has(key)) continue;
      this.warned.add(key);
      this.log.warn({ listener, reason }, `listener ${listener} stays in userspace: ${reason}`);
    }
    this.log.info({ listeners: result.kernel }, "kernel data plane programmed");
  }

  private program(model: ConfigModel) {
    return this.plane.apply(
      model,
      (pool, address, port) => this.health.get(memberIdOf(pool, address, port))?.healthy ?? true,
    );
  }
}
