import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { fetchIndexerStatus } from "../../app/src/edits/indexer.ts";
import { indexBehindBody, indexerNotServing, indexerStatus } from "../../p2p/index-behind.ts";

describe("indexerNotServing: what a status line says about the indexer", () => {
  let server: Server;
  let answer: { status: number; body: unknown } = { status: 200, body: { ready: true } };
  let url = "";

  before(async () => {
    // A real HTTP server standing in for the indexer's /v1/ready, answering what the test sets.
    server = createServer((request, response) => {
      assert.equal(request.url, "/v1/ready");
      response.writeHead(answer.status, { "content-type": "application/json" });
      response.end(JSON.stringify(answer.body));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("says nothing while the indexer serves, and the lag while it is behind", async () => {
    answer = { status: 200, body: { ready: true } };
    assert.equal(await indexerNotServing(url), undefined);
    answer = { status: 503, body: indexBehindBody({ indexed: 10, head: 14, lag: 4 }) };
    assert.equal(await indexerNotServing(url), "indexer behind by 4 blocks, recovering");
    answer = { status: 503, body: { error: { code: "SYNCING", message: "catching up" } } };
    assert.equal(await indexerNotServing(url), "indexer syncing");
  });

  it("classifies /v1/ready once for the CLI and the app: ready, behind, syncing with its reason, other HTTP", async () => {
    answer = { status: 200, body: { ready: true } };
    assert.deepEqual(await indexerStatus(url), { status: "ready", details: "" });
    answer = { status: 503, body: indexBehindBody({ indexed: 10, head: 14, lag: 4 }) };
    assert.deepEqual(await fetchIndexerStatus(url), {
      status: "behind",
      details: "indexer behind by 4 blocks, recovering",
    });
    answer = { status: 503, body: { ready: false, reason: "the chain was reset under the index" } };
    assert.deepEqual(await fetchIndexerStatus(`${url}/`), {
      status: "syncing",
      details: "the chain was reset under the index",
    });
    answer = { status: 500, body: { error: { code: "INTERNAL", message: "boom" } } };
    assert.deepEqual(await indexerStatus(url), { status: "unreachable", details: "HTTP 500 boom", httpStatus: 500 });
    assert.equal(await indexerNotServing(url), "indexer answers HTTP 500");
  });

  it("says the indexer is unreachable when nothing answers", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    assert.equal(await indexerNotServing(`http://127.0.0.1:${port}`, 1000), "indexer unreachable");
    assert.equal((await fetchIndexerStatus(`http://127.0.0.1:${port}`)).status, "unreachable");
  });
});
