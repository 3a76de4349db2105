import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";

/** Every Seedcraft contract, wired together. The deploy script turns its result into deployments/<network>.json. */
export default buildModule("Seedcraft", (m) => {
  const chunkLedger = m.contract("ChunkLedger");
  return { chunkLedger };
});
