import { useEffect, useState } from "react";
import type { Game } from "../game/Game.ts";
import { useStore } from "../store.ts";
import { bytes } from "./format.ts";

/** One line on what this tab gives back: the peers it shares the world with and what it has sent them. */
export function SeedingSummary({ game }: { game: Game }) {
  const peers = useStore(game.peers);
  const [sent, setSent] = useState(0);
  useEffect(() => {
    const read = () => setSent(game.peer.torrents?.stats().uploadedBytes ?? 0);
    read();
    const timer = setInterval(read, 1000);
    return () => clearInterval(timer);
  }, [game]);
  return (
    <div className="row" data-testid="seeding-summary" data-peers={peers.length} data-sent={sent}>
      <span className="label">Seeding</span>
      <span>
        {peers.length} {peers.length === 1 ? "peer" : "peers"} · {bytes(sent)} served
      </span>
    </div>
  );
}
