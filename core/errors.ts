/**
 * The base of every error Seedcraft throws on purpose. `code` is stable and machine-readable (UI and
 * logs show it); `details` says what exactly was wrong.
 */
export class SeedcraftError extends Error {
  readonly code: string;
  readonly details: string | undefined;

  constructor(code: string, message: string, details?: string) {
    super(details ? `${message}\n\nDetails: ${details}` : message);
    this.name = "SeedcraftError";
    this.code = code;
    this.details = details;
  }
}
