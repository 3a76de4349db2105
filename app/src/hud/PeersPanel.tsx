import type { Game } from "../game/Game.ts";
import { useStore } from "../store.ts";

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
          nearest {nearest.name}
          {nearest.distance !== undefined && ` · ${nearest.distance.toFixed(0)} blocks`}
        </p>
      )}
      <ol>
        {peers.slice(0, 8).map((peer) => (
          <li key={peer.id} data-testid="peer-row" data-name={peer.name} title={peer.wallet}>
            <span className="ellipsis">{peer.name}</span>
            <span className="muted">
              {peer.distance === undefined ? "—" : `${peer.distance.toFixed(0)} b`}
              {" · "}
              {peer.roundTripMs === undefined ? "— ms" : `${peer.roundTripMs.toFixed(1)} ms`}
            </span>
          </li>
        ))}
      </ol>
    </section>
  );
}
