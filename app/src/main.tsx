import { createRoot } from "react-dom/client";
import { App, ConfigProblem } from "./App.tsx";
import { loadAppConfig } from "./config.ts";
import { createSession } from "./session.ts";
import "./style.css";

const container = document.getElementById("root") ?? document.body;
const root = createRoot(container);

loadAppConfig().then(
  (config) => root.render(<App session={createSession(config)} />),
  (error: unknown) => root.render(<ConfigProblem error={error} />),
);
