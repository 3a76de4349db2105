/**
 * LedgerError, in a module of its own: ledger.ts and index-behind.ts both need it, and index-behind.ts's
 * subclass must find it defined whichever of the two a program imports first (an import cycle did not).
 */
import { SeedcraftError } from "../core/errors.ts";

export class LedgerError extends SeedcraftError {
  /** `code`: LEDGER_UNAVAILABLE, or a narrower reason (INDEX_BEHIND, see index-behind.ts). */
  constructor(message: string, details?: string, code = "LEDGER_UNAVAILABLE") {
    super(code, message, details);
    this.name = "LedgerError";
  }
}
