/**
 * Whether the world's TURN relay works for this tab: an RTCPeerConnection that may use relay candidates only
 * gathers from the TURN entries of the ICE servers, and the first relay candidate says it works. A 401 (the
 * credential refused) or every TURN server failing, or nothing within the limit, is told to the player: a
 * player behind a NAT that maps every connection anew (a symmetric NAT, many mobile networks) meets others
 * only through the relay, and without this a broken one looked like a world with nobody in it. Browser-only.
 */
import type { IceServer } from "../../../core/ice-servers.ts";

export type TurnStatus =
  /** Not checked yet, or the world names no TURN server (a loopback world). */
  | { state: "none" }
  | { state: "checking" }
  | { state: "ok"; ms: number }
  /** The server answered and refused the credential (TURN 401). */
  | { state: "refused"; url: string; ms: number; detail: string }
  /** No relay candidate within the limit: the server did not answer, or failed otherwise. */
  | { state: "unreachable"; urls: string[]; ms: number; detail: string };

/** How long a check waits for a relay candidate: a silent server is told well within 10 s. */
export const TURN_CHECK_MS = 8000;

const isTurn = (url: string) => /^turns?:/i.test(url);

/** The TURN entries of `servers` (with their credentials), without their STUN URLs. */
export function turnServersOf(servers: readonly IceServer[]): IceServer[] {
  return servers.flatMap((server) => {
    const urls = (typeof server.urls === "string" ? [server.urls] : server.urls).filter(isTurn);
    return urls.length > 0 ? [{ ...server, urls }] : [];
  });
}

/** Checks the TURN servers among `servers`; "none" when there are none. Never rejects. */
export async function probeTurn(servers: readonly IceServer[], limitMs = TURN_CHECK_MS): Promise<TurnStatus> {
  const turn = turnServersOf(servers);
  if (turn.length === 0) return { state: "none" };
  const urls = turn.flatMap((server) => server.urls as string[]);
  const started = performance.now();
  const ms = () => Math.round(performance.now() - started);
  let pc: RTCPeerConnection;
  try {
    pc = new RTCPeerConnection({ iceServers: turn, iceTransportPolicy: "relay" });
  } catch (error) {
    return { state: "unreachable", urls, ms: ms(), detail: `not usable here: ${(error as Error).message}` };
  }
  const errors: string[] = [];
  try {
    return await new Promise<TurnStatus>((resolve) => {
      const timer = setTimeout(
        () => resolve({ state: "unreachable", urls, ms: ms(), detail: errors.join("; ") || "no answer" }),
        limitMs,
      );
      const settle = (status: TurnStatus) => {
        clearTimeout(timer);
        resolve(status);
      };
      pc.onicecandidate = (event) => {
        if (event.candidate?.type === "relay" || / typ relay /.test(event.candidate?.candidate ?? ""))
          settle({ state: "ok", ms: ms() });
      };
      pc.onicecandidateerror = (event) => {
        const error = event as RTCPeerConnectionIceErrorEvent;
        errors.push(`${error.url}: ${error.errorCode} ${error.errorText}`.trim());
        if (error.errorCode === 401)
          settle({
            state: "refused",
            url: error.url,
            ms: ms(),
            detail: `${error.errorCode} ${error.errorText.replace(/\.$/, "")}`,
          });
      };
      pc.onicegatheringstatechange = () => {
        // Gathering over with no relay candidate: every server failed (an error each, most often 701).
        if (pc.iceGatheringState === "complete")
          settle({ state: "unreachable", urls, ms: ms(), detail: errors.join("; ") || "no relay candidate" });
      };
      pc.createDataChannel("turn-check");
      pc.createOffer()
        .then((offer) => pc.setLocalDescription(offer))
        .catch((error: Error) => settle({ state: "unreachable", urls, ms: ms(), detail: error.message }));
    });
  } finally {
    pc.close();
  }
}

/** What the join panel says about a failed check (nothing for the others). */
export function turnWarning(status: TurnStatus): string | undefined {
  if (status.state === "refused")
    return `The world's TURN relay refused this tab's credentials (${status.detail}): players behind strict NATs cannot reach you. Reload to get new ones.`;
  if (status.state === "unreachable")
    return `The world's TURN relay did not answer within ${Math.round(status.ms / 1000)} s (${status.urls.join(", ")}): players behind strict NATs cannot reach you, nor you them.`;
  return undefined;
}
