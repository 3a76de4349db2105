import { createRoot } from "react-dom/client";
import { App, ConfigProblem } from "./App.tsx";
import { loadAppConfig } from "./config.ts";
import { createSession, type Session } from "./session.ts";
import "./style.css";

const container = document.getElementById("root") ?? document.body;
const root = createRoot(container);

loadAppConfig().then(
  (config) => {
    const session = createSession(config);
    // A handle for the console, the end-to-end tests and the bench (the same objects the HUD uses).
    (window as unknown as { seedcraft: { session: Session } }).seedcraft = { session };
    root.render(<App session={session} />);
  },
  (error: unknown) => root.render(<ConfigProblem error={error} />),
);
