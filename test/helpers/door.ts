/**
 * An HTTP door in front of a real server (the indexer): open, it passes every request through; shut, it drops
 * each connection as a killed server would. Tests put it between one peer and the indexer to take the ledger
 * away from that peer alone. Frozen, it answers each request it answered before with that same answer, as an
 * indexer stuck on an old block that does not know it is behind (others pass through). Node-only.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

export type Door = { url: string; open: boolean; frozen: boolean; close(): void };

type Answer = { status: number; type: string; body: Buffer };

export async function openDoor(target: string): Promise<Door> {
  const door: Door = { url: "", open: true, frozen: false, close: () => undefined };
  const answered = new Map<string, Answer>();
  const server = http.createServer(async (request, response) => {
    if (!door.open) return request.socket.destroy();
    const url = request.url ?? "/";
    let answer = door.frozen ? answered.get(url) : undefined;
    if (!answer) {
      const fetched = await fetch(`${target}${url}`).catch(() => undefined);
      if (!fetched) return request.socket.destroy();
      answer = {
        status: fetched.status,
        type: fetched.headers.get("content-type") ?? "text/plain",
        body: Buffer.from(await fetched.arrayBuffer()),
      };
      if (!door.frozen) answered.set(url, answer);
    }
    response.writeHead(answer.status, { "content-type": answer.type });
    response.end(answer.body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  door.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  door.close = () => {
    server.close();
    server.closeAllConnections();
  };
  return door;
}
