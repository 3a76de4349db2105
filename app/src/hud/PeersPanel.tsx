import type { Game } from "../game/Game.ts";
import { useStore } from "../store.ts";
import { displayName } from "./format.ts";

/** Linked peers, nearest first: how far each one's avatar is and the connection's round trip. */
export function PeersPanel({ game }: { game: Game }) {
  const peers = useStore(game.peers);
  const nearest = peers[0];
  return (
    <section className="panel peers" aria-label="Peers" data-testid="peers-panel" data-count={peers.length}>
      <h2>
        Peers <span data-testid="peer-count">{peers.length}</span>
      </h2>
      {nearest && (
        <p className="muted">
          nearest {displayName(nearest.name, nearest.wallet)}
          {nearest.distance !== undefined && ` · ${blocks(nearest.distance)}`}
        </p>
      )}
      <ol>
        {peers.slice(0, 8).map((peer) => (
          <li key={peer.id} data-testid="peer-row" data-name={peer.name} title={peer.wallet}>
            <span className="ellipsis">{displayName(peer.name, peer.wallet)}</span>
            <span className="muted nowrap">
              {peer.distance === undefined ? "—" : blocks(peer.distance)}
              {" · "}
              {peer.roundTripMs === undefined ? "— ms" : `${peer.roundTripMs.toFixed(1)} ms`}
            </span>
          </li>
        ))}
      </ol>
    </section>
  );
}

/** A distance in blocks, spelled out (a bare "b" reads as bytes next to "KB"). */
function blocks(distance: number): string {
  const n = Math.round(distance);
  return `${n} ${n === 1 ? "block" : "blocks"}`;
}
