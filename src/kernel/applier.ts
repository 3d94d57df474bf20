import { StickyError } from "../errors/codes.js";
import type { NftRun } from "./nft-command.js";
import { type RenderedRuleset, transactionText } from "./ruleset.js";

/** A transaction nft refused: the kernel is unchanged (transactions are atomic). */
export class NftTransactionError extends StickyError {
  constructor(readonly stderr: string) {
    super("SLB_ERR_KERNEL_NFT", `nft refused the transaction: ${stderr.split("\n")[0] ?? ""}`);
    this.name = "NftTransactionError";
  }
}

/**
 * NftApplier owns the table: every change is one `nft -f -` transaction (ruleset.ts says how it
 * keeps the bindings). Changes are serialised and coalesced: while one transaction runs, only the
 * newest pending ruleset is applied after it, so a burst of health changes costs two transactions.
 */
export class NftApplier {
  private applied: RenderedRuleset | undefined;
  private pending: RenderedRuleset | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly run: NftRun) {}

  /** The ruleset the kernel has now (undefined before the first transaction succeeds). */
  get current(): RenderedRuleset | undefined {
    return this.applied;
  }

  /** Applies `next` (creating or replacing the table on the first call); resolves when it is in the kernel. */
  async apply(next: RenderedRuleset): Promise<void> {
    this.pending = next;
    while (this.running !== undefined) await this.running;
    if (this.pending !== next) return; // a newer ruleset was applied after ours
    this.pending = undefined;
    this.running = this.transact(next);
    try {
      await this.running;
    } finally {
      this.running = undefined;
    }
  }

  /** Deletes the table; a table that is already gone is fine. */
  async remove(table: string): Promise<void> {
    while (this.running !== undefined) await this.running.catch(() => {});
    const result = await this.run(["delete", "table", "inet", table]);
    this.applied = undefined;
    if (result.code !== 0 && !/No such file or directory/.test(result.stderr))
      throw new NftTransactionError(result.stderr);
  }

  private async transact(next: RenderedRuleset): Promise<void> {
    const result = await this.run(["-f", "-"], transactionText(next, this.applied));
    if (result.code !== 0) throw new NftTransactionError(result.stderr);
    this.applied = next;
  }
}
