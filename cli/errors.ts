import { SeedcraftError } from "../core/errors.ts";

/** A part of the local world could not start or stopped on its own. `part` names it for the user. */
export class PartFailedError extends SeedcraftError {
  readonly part: string;
  readonly logFile: string | undefined;

  constructor(code: string, part: string, message: string, details?: string, logFile?: string) {
    super(code, message, details);
    this.name = "PartFailedError";
    this.part = part;
    this.logFile = logFile;
  }
}

export class PortTakenError extends PartFailedError {
  constructor(part: string, port: number, protocol: "tcp" | "udp" = "tcp", host = "127.0.0.1") {
    super(
      "PORT_TAKEN",
      part,
      `${part}: ${protocol === "udp" ? "UDP " : ""}port ${port} on ${host} is already taken.`,
      `Is another \`npm start\` (seedcraft up) running? Stop it, or free the port (\`ss -${protocol === "udp" ? "u" : "t"}lnp 'sport = :${port}'\` shows who holds it).`,
    );
    this.name = "PortTakenError";
  }
}

export class PartExitedError extends PartFailedError {
  constructor(part: string, how: string, logFile: string, logTail: string) {
    super(
      "PART_EXITED",
      part,
      `${part}: ${how}.`,
      logTail ? `last lines of ${logFile}:\n${logTail}` : undefined,
      logFile,
    );
    this.name = "PartExitedError";
  }
}

/** The local chain died: its state lived in memory only, so the world ends with it. */
export class ChainEndedError extends PartFailedError {
  constructor(how: string, logFile: string, logTail: string) {
    super(
      "CHAIN_ENDED",
      "chain",
      `chain: the local chain stopped (${how}); the world ends with it, every anchored block is gone — run npm start again.`,
      logTail ? `last lines of ${logFile}:\n${logTail}` : undefined,
      logFile,
    );
    this.name = "ChainEndedError";
  }
}

/** The world was stopped (Ctrl-C, or another part failed) while this part was starting. */
export class WorldStoppedError extends PartFailedError {
  constructor(part: string) {
    super("WORLD_STOPPED", part, `${part}: not started, the world is stopping.`);
    this.name = "WorldStoppedError";
  }
}

export class PartTimeoutError extends PartFailedError {
  constructor(part: string, seconds: number, logFile: string, logTail: string) {
    super(
      "PART_TIMEOUT",
      part,
      `${part}: not healthy after ${seconds} s.`,
      logTail ? `last lines of ${logFile}:\n${logTail}` : undefined,
      logFile,
    );
    this.name = "PartTimeoutError";
  }
}

/** A bind address (`--host`, SEEDCRAFT_HOST) that is not one of this machine's: nothing was started. */
export class HostNotLocalError extends SeedcraftError {
  readonly host: string;

  constructor(flag: string, host: string, why: string, addresses: readonly string[], cause?: Error) {
    super(
      "HOST_NOT_LOCAL",
      `${flag} ${host} is not an address of this machine: nothing was started.`,
      `${why}. This machine's addresses: ${addresses.join(", ") || "none found"}; 0.0.0.0 listens on all of them. ` +
        "To tell others a name or an address that is not this machine's own (a NAT's, a proxy's), keep --host and give --public-host.",
    );
    this.name = "HostNotLocalError";
    this.host = host;
    if (cause) this.cause = cause;
  }
}

export class UsageError extends SeedcraftError {
  constructor(details: string) {
    super("USAGE", "Bad command line (see `seedcraft help`).", details);
    this.name = "UsageError";
  }
}

/** `seedcraft reset` could not clear some state (for example, an unreachable Postgres server). */
export class ResetError extends SeedcraftError {
  constructor(details: string) {
    super("RESET_FAILED", "Could not reset the local state.", details);
    this.name = "ResetError";
  }
}
