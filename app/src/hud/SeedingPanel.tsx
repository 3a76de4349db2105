import { useEffect, useState } from "react";
import type { TorrentStats } from "../../../p2p/chunk-torrents.ts";
import type { Game } from "../game/Game.ts";

type Figures = { torrents: TorrentStats; signed: number; acked: number; pending: number };

function rate(bytesPerSecond: number): string {
  return bytesPerSecond >= 1024 * 1024
    ? `${(bytesPerSecond / 1024 / 1024).toFixed(1)} MB/s`
    : `${(bytesPerSecond / 1024).toFixed(1)} KB/s`;
}

/** The data plane at work: rates, snapshots served and fetched, torrents seeded, receipts signed for seeders. */
export function SeedingPanel({ game }: { game: Game }) {
  const [figures, setFigures] = useState<Figures | undefined>(undefined);
  useEffect(() => {
    const read = () => {
      const torrents = game.peer.torrents?.stats();
      const signer = game.peer.receiptSigner;
      if (torrents)
        setFigures({ torrents, signed: signer?.signed ?? 0, acked: signer?.acked ?? 0, pending: signer?.pending ?? 0 });
    };
    read();
    const timer = setInterval(read, 1000);
    return () => clearInterval(timer);
  }, [game]);
  if (!figures) return null;
  const { torrents } = figures;
  return (
    <div
      className="seeding"
      data-testid="seeding-status"
      data-served={torrents.served}
      data-fetched={torrents.fetched}
      data-receipts-signed={figures.signed}
      data-receipts-acked={figures.acked}
    >
      <div className="row">
        <span className="label">Seeding</span>
        <span>
          ↑ {rate(torrents.uploadBytesPerSecond)} · ↓ {rate(torrents.downloadBytesPerSecond)}
        </span>
      </div>
      <div className="row muted">
        {torrents.seeded} seeded · {torrents.served} served · {torrents.fetched} fetched
      </div>
      <div className="row muted">
        receipts signed {figures.signed} · acknowledged {figures.acked}
      </div>
    </div>
  );
}
