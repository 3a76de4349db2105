import { QueryClientProvider } from "@tanstack/react-query";
import { useEffect, useRef } from "react";
import { useConnection, WagmiProvider } from "wagmi";
import { SeedcraftError } from "../../core/errors.ts";
import { EditListPanel } from "./hud/EditListPanel.tsx";
import { IndexerStatus } from "./hud/IndexerStatus.tsx";
import { Palette } from "./hud/Palette.tsx";
import { WalletPanel } from "./hud/WalletPanel.tsx";
import type { Session } from "./session.ts";

export function App({ session }: { session: Session }) {
  return (
    <WagmiProvider config={session.wagmi}>
      <QueryClientProvider client={session.queryClient}>
        <WorldView session={session} />
        <AnchorWhenConnected session={session} />
        <div className="hud">
          <section className="panel panel-status">
            <WalletPanel chainId={session.config.deployment.chainId} />
            <IndexerStatus indexerUrl={session.config.indexerUrl} />
          </section>
          <EditListPanel edits={session.edits} />
          <Palette selected={session.selected} />
        </div>
      </QueryClientProvider>
    </WagmiProvider>
  );
}

function WorldView({ session }: { session: Session }) {
  const container = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (container.current) session.world.mount(container.current);
  }, [session]);
  return <div className="world" ref={container} />;
}

/** Anchors go out while a wallet is connected to the world's chain. */
function AnchorWhenConnected({ session }: { session: Session }) {
  const connection = useConnection();
  const ready = connection.status === "connected" && connection.chainId === session.config.deployment.chainId;
  useEffect(() => session.queue.setWalletReady(ready), [session, ready]);
  return null;
}

export function ConfigProblem({ error }: { error: unknown }) {
  const title = error instanceof Error ? error.message.split("\n")[0] : "Seedcraft could not start.";
  const details = error instanceof SeedcraftError ? error.details : undefined;
  return (
    <div className="problem" data-testid="config-problem">
      <h1>Seedcraft</h1>
      <p>{title}</p>
      {details && <p className="problem-details">{details}</p>}
    </div>
  );
}
