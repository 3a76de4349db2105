import { useEffect } from "react";
import { useConnection } from "wagmi";
import { turnWarning } from "../net/turn-probe.ts";
import type { JoinState, Session } from "../session.ts";
import { useStore } from "../store.ts";
import { joinAsked } from "../wallet/consent.ts";

const STEPS: Record<string, { label: string; at: number }> = {
  idle: { label: "Connect a wallet to join", at: 0 },
  confirm: { label: "Join: your wallet asks once, to authorize this tab's session key", at: 0.05 },
  checking: { label: "Checking the session key", at: 0.1 },
  authorizing: { label: "Authorize the session key in your wallet (once)", at: 0.25 },
  funding: { label: "Funding the session key's gas", at: 0.45 },
  indexing: { label: "Waiting for the indexer to see the session", at: 0.6 },
  joining: { label: "Finding peers on the DHT", at: 0.8 },
  joined: { label: "In the world", at: 1 },
};

export function playerName(wallet: string): string {
  const stored = localStorage.getItem("seedcraft:name");
  return stored && /^[\w .-]{1,24}$/.test(stored) ? stored : `player-${wallet.slice(2, 6).toLowerCase()}`;
}

/**
 * Joins once a wallet is connected to the world's chain: at once if the player clicked to connect (or this
 * tab's session key is still authorized, which asks the wallet nothing), else on a click of Join. Shows how
 * far joining got.
 */
export function JoinPanel({ session }: { session: Session }) {
  const connection = useConnection();
  const state: JoinState = useStore(session.join);
  const asked = useStore(joinAsked);
  const turn = useStore(session.turn);
  const warning = state.step === "joined" ? turnWarning(turn) : undefined;
  const chainId = session.config.deployment.chainId;
  const ready = connection.status === "connected" && connection.chainId === chainId && connection.address;
  useEffect(() => {
    if (ready && connection.address) void session.start(connection.address, playerName(connection.address), asked);
  }, [ready, connection.address, session, asked]);

  const step = STEPS[state.step];
  return (
    <div className="join" data-testid="join-status" data-state={state.step}>
      <div className="row">
        <span className="label">Game</span>
        <span
          className={`pill pill-${state.step === "joined" ? "ready" : state.step === "failed" ? "failed" : "syncing"}`}
        >
          {state.step}
        </span>
      </div>
      {step && state.step !== "joined" && (
        <>
          <div className="progress" role="progressbar" aria-valuenow={Math.round(step.at * 100)}>
            <div className="progress-fill" style={{ width: `${step.at * 100}%` }} />
          </div>
          <p className="muted">{step.label}</p>
        </>
      )}
      {state.step === "confirm" && connection.address && (
        <button type="button" data-testid="join-button" onClick={() => joinAsked.set(true)}>
          Join as {playerName(connection.address)}
        </button>
      )}
      {warning && (
        <p className="error" data-testid="turn-warning" data-state={turn.state}>
          {warning}
        </p>
      )}
      {state.step === "failed" && (
        <div className="error" data-testid="join-error">
          <p>{state.error}</p>
          {state.details && <p className="muted">{state.details}</p>}
          {connection.address && (
            <button
              type="button"
              onClick={() =>
                connection.address && void session.start(connection.address, playerName(connection.address), true)
              }
            >
              Try again
            </button>
          )}
        </div>
      )}
    </div>
  );
}
