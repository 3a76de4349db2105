/** The deployment this indexer indexes: deployments/<SEEDCRAFT_NETWORK>.json (default "localhost"). */
import { readDeploymentSync } from "../deploy/deployment-file.ts";

export const indexedDeployment = readDeploymentSync(process.env.SEEDCRAFT_NETWORK || "localhost");
