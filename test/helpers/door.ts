/**
 * An HTTP door in front of a real server (the indexer): open, it passes every request through; shut, it drops
 * each connection as a killed server would. Tests put it between one peer and the indexer to take the ledger
 * away from that peer alone. Node-only.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

export type Door = { url: string; open: boolean; close(): void };

export async function openDoor(target: string): Promise<Door> {
  const door: Door = { url: "", open: true, close: () => undefined };
  const server = http.createServer(async (request, response) => {
    if (!door.open) return request.socket.destroy();
    const answer = await fetch(`${target}${request.url}`).catch(() => undefined);
    if (!answer) return request.socket.destroy();
    response.writeHead(answer.status, { "content-type": answer.headers.get("content-type") ?? "text/plain" });
    response.end(Buffer.from(await answer.arrayBuffer()));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  door.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  door.close = () => {
    server.close();
    server.closeAllConnections();
  };
  return door;
}
