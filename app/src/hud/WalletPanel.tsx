import { type Connector, useConnect, useConnection, useConnectors, useDisconnect, useSwitchChain } from "wagmi";
import { joinAsked } from "../wallet/consent.ts";

function describeError(error: Error): string {
  if (error.name === "ProviderNotFoundError")
    return "No browser wallet found: install one, or play with a dev account.";
  return "shortMessage" in error && typeof error.shortMessage === "string" ? error.shortMessage : error.message;
}

function short(address: string): string {
  return `${address.slice(0, 6)}…${address.slice(-4)}`;
}

/** Connection state, the two ways to connect, the account and its chain. */
export function WalletPanel({ chainId }: { chainId: number }) {
  const connection = useConnection();
  const connectors = useConnectors();
  const connect = useConnect();
  const disconnect = useDisconnect();
  const switchChain = useSwitchChain();
  const devConnector = connectors.find((connector) => connector.id === "devAccount");
  // EIP-6963 wallets announce themselves (one connector each); the generic injected one covers older wallets.
  const announced = connectors.filter((connector) => connector.type === "injected" && connector.id !== "injected");
  const injectedConnector =
    announced.length === 0 ? connectors.find((connector) => connector.id === "injected") : undefined;
  const wrongChain = connection.status === "connected" && connection.chainId !== chainId;
  // A click on a connect button is the player asking to join: the join may then ask the wallet once.
  const connectAndJoin = (connector: Connector) => {
    joinAsked.set(true);
    connect.mutate({ connector, chainId });
  };
  const error = connect.error ?? switchChain.error;

  return (
    <div className="wallet">
      <div className="row">
        <span className="label">Wallet</span>
        <span data-testid="wallet-status" data-state={connection.status} className={`pill pill-${connection.status}`}>
          {connection.status}
        </span>
        {connection.connector && <span className="muted ellipsis">{connection.connector.name}</span>}
      </div>
      {connection.address && (
        <div className="row" title={connection.address}>
          <span className="label">Account</span>
          <code data-testid="wallet-address" data-address={connection.address}>
            {short(connection.address)}
          </code>
        </div>
      )}
      <div className="row">
        <span className="label">Chain</span>
        <code data-testid="chain-id">{connection.chainId ?? chainId}</code>
        {wrongChain && (
          <button
            type="button"
            onClick={() => {
              joinAsked.set(true);
              switchChain.mutate({ chainId });
            }}
          >
            Switch to {chainId}
          </button>
        )}
      </div>
      {connection.status === "connected" ? (
        <button type="button" data-testid="disconnect" onClick={() => disconnect.mutate({})}>
          Disconnect
        </button>
      ) : (
        <div className="row buttons">
          {devConnector && (
            <button
              type="button"
              data-testid="connect-dev-account"
              disabled={connect.isPending}
              onClick={() => connectAndJoin(devConnector)}
            >
              Play with a dev account
            </button>
          )}
          {announced.map((connector) => (
            <button
              key={connector.uid}
              type="button"
              data-testid={`connect-${connector.id}`}
              disabled={connect.isPending}
              onClick={() => connectAndJoin(connector)}
            >
              {connector.icon && <img src={connector.icon} alt="" width={12} height={12} />} {connector.name}
            </button>
          ))}
          {injectedConnector && (
            <button
              type="button"
              data-testid="connect-injected"
              disabled={connect.isPending}
              onClick={() => connectAndJoin(injectedConnector)}
            >
              Browser wallet
            </button>
          )}
        </div>
      )}
      {error && (
        <p className="error" data-testid="wallet-error">
          {describeError(error)}
        </p>
      )}
    </div>
  );
}
