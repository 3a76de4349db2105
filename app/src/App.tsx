import { QueryClientProvider } from "@tanstack/react-query";
import { useEffect, useRef } from "react";
import { WagmiProvider } from "wagmi";
import { SeedcraftError } from "../../core/errors.ts";
import { AssetsPanel } from "./hud/AssetsPanel.tsx";
import { ChatPanel } from "./hud/ChatPanel.tsx";
import { ClaimPanel } from "./hud/ClaimPanel.tsx";
import { Details } from "./hud/Details.tsx";
import { EditListPanel } from "./hud/EditListPanel.tsx";
import { EnergyPanel } from "./hud/EnergyPanel.tsx";
import { Crosshair, Hotbar } from "./hud/Hotbar.tsx";
import { IndexerStatus } from "./hud/IndexerStatus.tsx";
import { JoinPanel } from "./hud/JoinPanel.tsx";
import { LimitsPanel } from "./hud/LimitsPanel.tsx";
import { LoadingBar } from "./hud/LoadingBar.tsx";
import { PeersPanel } from "./hud/PeersPanel.tsx";
import { SeedingPanel } from "./hud/SeedingPanel.tsx";
import { SeedingSummary } from "./hud/SeedingSummary.tsx";
import { SyncPanel } from "./hud/SyncPanel.tsx";
import { ViewPanel } from "./hud/ViewPanel.tsx";
import { VoicePanel } from "./hud/VoicePanel.tsx";
import { WalletPanel } from "./hud/WalletPanel.tsx";
import { HOTBAR, type Session } from "./session.ts";
import { useStore } from "./store.ts";

/**
 * The providers only: WagmiProvider must not re-render (its Hydrate reconnects on every render, which updates
 * other components mid-render), so the state the HUD follows is read below it.
 */
export function App({ session }: { session: Session }) {
  return (
    <WagmiProvider config={session.wagmi}>
      <QueryClientProvider client={session.queryClient}>
        <WorldView session={session} />
        <Hud session={session} />
      </QueryClientProvider>
    </WagmiProvider>
  );
}

function Hud({ session }: { session: Session }) {
  const game = useStore(session.game);
  const slot = useStore(session.slot);
  // The hotbar's locks change when the shop unlocks a block: re-render then.
  useStore(session.unlocked);
  const refusal = useStore(session.refusal);
  const seeding = useStore(session.seeding);
  const voice = useStore(session.voice);
  return (
    <div className="hud">
      {/* What a player needs first, in a few plain lines; the seeding and claims figures wait behind Details. */}
      <section className="panel panel-status" data-testid="status-panel">
        {/* Until joined the wallet is the way in; after that, its account and chain are details. */}
        {!game && <WalletPanel chainId={session.config.deployment.chainId} />}
        <IndexerStatus indexerUrl={session.config.indexerUrl} />
        <JoinPanel session={session} />
        {game && <SyncPanel sync={session.sync} />}
        {game && <SeedingSummary game={game} />}
        <EnergyPanel session={session} />
        <AssetsPanel packs={session.assets} />
        {voice && <VoicePanel voice={voice} />}
        <Details>
          {game && <WalletPanel chainId={session.config.deployment.chainId} />}
          {game && <SeedingPanel game={game} />}
          {seeding && (
            <ClaimPanel
              config={session.config}
              wagmi={session.wagmi}
              store={seeding.store}
              cache={seeding.cache}
              wallet={seeding.wallet}
            />
          )}
          <ViewPanel world={session.world} />
          <LimitsPanel limits={session.limits} />
        </Details>
      </section>
      {game && <PeersPanel game={game} />}
      {game && <ChatPanel game={game} />}
      <EditListPanel edits={session.edits} />
      <Crosshair />
      <LoadingBar world={session.world} />
      <Hotbar
        slots={HOTBAR}
        selected={slot}
        onSelect={(i) => session.world.controls.selectSlot(i)}
        locked={session.locked}
      />
      {refusal && (
        <p className="refusal" data-testid="edit-refusal">
          {refusal}
        </p>
      )}
    </div>
  );
}

function WorldView({ session }: { session: Session }) {
  const container = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (container.current) session.world.mount(container.current);
  }, [session]);
  return <div className="world" ref={container} />;
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
