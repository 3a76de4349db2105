/**
 * `seedcraft app-config`: the seedcraft.json a static host serves beside app/dist, made by the real command (a
 * child process) from a deployment file the test writes the way the deploy does (no chain needed). It is what
 * the app's own parser takes, every flag is checked, bad input changes nothing on disk, and no TURN password
 * is ever written. And the `public` Hardhat network says which variable it lacks.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { Abi } from "viem";
import { parseAppConfig } from "../../app/src/config.ts";
import { AppConfigWriteError, appConfigFlags, buildAppConfig, writeAppConfig } from "../../cli/app-config.ts";
import { UsageError } from "../../cli/errors.ts";
import { ROOT } from "../../cli/world.ts";
import { assetManifestHash, assetPackPin, generateAssetPack } from "../../core/assets.ts";
import { type Deployment, InvalidDeploymentError } from "../../core/deployment.ts";
import { IceServersError } from "../../core/ice-servers.ts";
import { deploymentPath, writeDeployment } from "../../deploy/deployment-file.ts";

type Run = { status: number | null; stdout: string; stderr: string };

/** Runs a command to its end, without blocking the others a test starts beside it. */
function run(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.on("error", reject);
    child.on("close", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

const seedcraft = (...args: string[]) => run([path.join(ROOT, "cli", "seedcraft.ts"), ...args]);

const NETWORK = `app-config-test-${process.pid}`;
const ABI = [
  { type: "function", name: "version", stateMutability: "view", inputs: [], outputs: [{ type: "uint256" }] },
] as const satisfies Abi;
const contract = (n: number) => ({ address: `0x${String(n).repeat(40)}` as const, abi: ABI });
const packs = [assetPackPin(generateAssetPack())];
const DEPLOYMENT: Deployment = {
  network: NETWORK,
  chainId: 84532,
  startBlock: 1_234_567,
  deployBlockHash: `0x${"ab".repeat(32)}`,
  contracts: {
    ChunkLedger: contract(1),
    SessionRegistry: contract(2),
    EnergyToken: contract(3),
    SeedingRewards: contract(4),
    AssetManifest: contract(5),
  },
  assets: { manifestHash: assetManifestHash(packs), packs },
};

/** A whole valid command line for the network, with `extra` flags after (parseArgs: a later string flag wins). */
const flags = (...extra: string[]) => [
  "--network",
  NETWORK,
  "--rpc",
  "https://rpc.play.example.org/",
  "--indexer",
  "https://play.example.org/indexer",
  "--gateway",
  "wss://play.example.org/gateway",
  "--tracker",
  "wss://play.example.org/tracker",
  ...extra,
];

describe("cli: seedcraft app-config", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "seedcraft-app-config-"));
    await writeDeployment(DEPLOYMENT);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
    await rm(deploymentPath(NETWORK), { force: true });
  });

  it("writes the app's seedcraft.json from the deployment file and the public URLs", async () => {
    const out = path.join(dir, "seedcraft.json");
    const result = await seedcraft(
      "app-config",
      ...flags(
        "--gateway",
        "wss://gw2.example.org:6880,wss://play.example.org/gateway",
        "--tracker",
        "wss://tracker2.example.org",
        "--ice-servers",
        '[{"urls":["stun:stun.example.org:3478","stun:stun2.example.org"]}]',
        "--out",
        out,
      ),
    );
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`wrote .*seedcraft\\.json: world ${NETWORK} on chain 84532`));
    assert.match(result.stdout, /2 gateways, 2 trackers, 1 STUN server/);
    // Every URL is wss:// or https:// and off loopback: nothing to warn about.
    assert.equal(result.stderr, "");

    const written: unknown = JSON.parse(await readFile(out, "utf8"));
    assert.deepEqual(written, {
      deployment: DEPLOYMENT,
      rpcUrl: "https://rpc.play.example.org",
      indexerUrl: "https://play.example.org/indexer",
      // The repeated gateway is listed once.
      gateways: ["wss://play.example.org/gateway", "wss://gw2.example.org:6880"],
      trackers: ["wss://play.example.org/tracker", "wss://tracker2.example.org"],
      iceServers: [{ urls: ["stun:stun.example.org:3478", "stun:stun2.example.org"] }],
    });
    // What the app makes of it (app/src/config.ts), as a browser loading it would.
    assert.deepEqual(parseAppConfig(written), written);
    assert.deepEqual(await readdir(dir), ["seedcraft.json"], "no temporary file left");
  });

  it("refuses bad input with a clear message, exit code and nothing written over the existing file", async () => {
    const out = path.join(dir, "existing", "seedcraft.json");
    await mkdir(path.dirname(out));
    const before = '{"the host\'s":"file as it was"}\n';
    await writeFile(out, before);
    const { mtimeMs } = await stat(out);
    const cases: { args: string[]; status: number; message: RegExp }[] = [
      {
        args: flags("--indexer", "ftp://play.example.org/indexer"),
        status: 2,
        message: /--indexer "ftp:\/\/play\.example\.org\/indexer" must be a http:\/\/ or https:\/\/ URL, not ftp:/,
      },
      {
        args: [...flags("--network", "no-such-world"), "--out", out],
        status: 1,
        message:
          /deployments\/no-such-world\.json does not exist: deploy the world to that network first \(npm run deploy -- --network no-such-world\)/,
      },
      {
        args: flags(
          "--ice-servers",
          '[{"urls":"stun:stun.example.org"},{"urls":"turn:turn.example.org:3478","username":"u","credential":"hunter2"}]',
        ),
        status: 2,
        message:
          /--ice-servers entry 1 is a TURN server, which needs a credential: seedcraft\.json is public.*short-lived credentials/s,
      },
    ];
    const results = await Promise.all(cases.map(({ args }) => seedcraft("app-config", ...args, "--out", out)));
    results.forEach((result, i) => {
      const { args, status, message } = cases[i] as (typeof cases)[number];
      assert.equal(result.status, status, `${args.join(" ")}: ${result.stderr}`);
      assert.match(result.stderr, message, args.join(" "));
      assert.equal(result.stdout, "", "nothing said to be written");
      assert.doesNotMatch(result.stderr, /hunter2/, "the credential is not echoed");
    });
    assert.equal(await readFile(out, "utf8"), before);
    assert.equal((await stat(out)).mtimeMs, mtimeMs);
    assert.deepEqual(await readdir(path.dirname(out)), ["seedcraft.json"], "no temporary file left");
  });

  it("checks every flag before reading or writing anything", () => {
    const refused = (args: string[], match: RegExp) =>
      assert.throws(
        () => appConfigFlags(args),
        (error: unknown) => error instanceof UsageError && match.test(error.message),
      );
    const without = (flag: string) => {
      const args = flags();
      args.splice(args.indexOf(flag), 2);
      return args;
    };
    for (const flag of ["--network", "--rpc", "--indexer", "--gateway", "--tracker"])
      refused(without(flag), new RegExp(`${flag} <(url|name)> is required`));
    refused(flags("--network", "../etc"), /--network must be a name/);
    refused(flags("--rpc", "rpc.play.example.org"), /--rpc "rpc\.play\.example\.org" is not a URL/);
    refused(
      flags("--gateway", "https://play.example.org/gateway"),
      /--gateway "https:\/\/play\.example\.org\/gateway" must be a ws:\/\/ or wss:\/\/ URL/,
    );
    refused(flags("--rpc", "wss://rpc.play.example.org"), /--rpc .* must be a http:\/\/ or https:\/\/ URL/);
    refused(flags("--rpc", "https://user:key@rpc.play.example.org"), /holds a user name or password/);
    refused(flags("--tracker", "ws://127.0.0.1:99999"), /--tracker "ws:\/\/127\.0\.0\.1:99999" is not a URL/);
    // --gateway and --tracker add up: a list of only commas and spaces is none.
    refused([...without("--tracker"), "--tracker", " , "], /--tracker <url> is required/);
    refused(
      [...without("--gateway"), "--gateway", Array.from({ length: 17 }, (_, i) => `wss://g${i}.example.org`).join(",")],
      /at most 16 URLs, got 17/,
    );
    refused(flags("--out", ""), /--out <file> must name a file/);
    assert.throws(() => appConfigFlags(flags("--colour", "blue")), { code: "ERR_PARSE_ARGS_UNKNOWN_OPTION" });
    // Any credential is refused, a STUN server's too; the parser's own errors stay its typed ones.
    refused(flags("--ice-servers", '[{"urls":"stun:stun.example.org","credential":"p"}]'), /entry 0 has a credential/);
    refused(flags("--ice-servers", '[{"urls":["stun:a.example.org","turns:b.example.org"]}]'), /is a TURN server/);
    assert.throws(() => appConfigFlags(flags("--ice-servers", "[{urls:")), IceServersError);
    assert.throws(() => appConfigFlags(flags("--ice-servers", '[{"urls":"http://x"}]')), /has the scheme http:/);

    const good = appConfigFlags(flags("--ice-servers", "", "--rpc", "http://127.0.0.1:8545///"));
    assert.equal(good.rpcUrl, "http://127.0.0.1:8545");
    assert.deepEqual(good.iceServers, []);
    assert.equal(good.out, path.join(ROOT, "app", "dist", "seedcraft.json"));
  });

  it("writes into a directory --out names, and says where it cannot write", async () => {
    const config = await buildAppConfig(appConfigFlags(flags()));
    const file = await writeAppConfig(config, dir);
    assert.equal(file, path.join(dir, "seedcraft.json"));
    assert.deepEqual(JSON.parse(await readFile(file, "utf8")).gateways, ["wss://play.example.org/gateway"]);
    const nowhere = path.join(dir, "no-such-dir", "seedcraft.json");
    await assert.rejects(
      writeAppConfig(config, nowhere),
      (error: unknown) =>
        error instanceof AppConfigWriteError &&
        error.code === "APP_CONFIG_WRITE" &&
        error.message.includes(`the directory ${path.dirname(nowhere)} does not exist`),
    );
    await assert.rejects(buildAppConfig(appConfigFlags(flags("--network", "no-such-world"))), InvalidDeploymentError);
  });

  it("the public Hardhat network names the variable it lacks, and does not connect anywhere", async () => {
    const env = { ...process.env };
    delete env.SEEDCRAFT_RPC_URL;
    delete env.SEEDCRAFT_DEPLOYER_KEY;
    // The deploy script itself, uncompiled: it fails as it asks for the network, before any transaction.
    const result = await run(
      [
        path.join(ROOT, "node_modules", "hardhat", "dist", "src", "cli.js"),
        "run",
        "--no-compile",
        "--network",
        "public",
        "deploy/deploy.ts",
      ],
      env,
    );
    assert.equal(result.status, 1, result.stdout + result.stderr);
    assert.match(result.stdout + result.stderr, /Configuration Variable "SEEDCRAFT_RPC_URL" not found/);
  });
});
