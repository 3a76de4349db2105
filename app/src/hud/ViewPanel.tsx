import { useEffect, useState } from "react";
import type { World } from "../world/World.ts";

const STORAGE_KEY = "seedcraft:view";
type ViewSettings = { distance: number; scale: number | "auto" };
const SCALES = ["auto", 0.5, 0.75, 1] as const;

function load(): ViewSettings {
  try {
    const parsed = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? "{}") as Partial<ViewSettings>;
    const distance =
      Number.isInteger(parsed.distance) && (parsed.distance as number) >= 1 ? (parsed.distance as number) : 2;
    const scale = SCALES.includes(parsed.scale as never) ? (parsed.scale as ViewSettings["scale"]) : "auto";
    return { distance: Math.min(distance, 8), scale };
  } catch {
    return { distance: 2, scale: "auto" };
  }
}

/** View distance (chunks around the player) and render resolution; kept across reloads. */
export function ViewPanel({ world }: { world: World }) {
  const [settings, setSettings] = useState(load);
  useEffect(() => {
    world.setViewDistance(settings.distance);
    world.setRenderScale(settings.scale);
    localStorage.setItem(STORAGE_KEY, JSON.stringify(settings));
  }, [world, settings]);
  return (
    <details className="limits" data-testid="view-panel">
      <summary>View</summary>
      <label className="row">
        <span className="label">Distance</span>
        <input
          type="range"
          min={1}
          max={8}
          data-testid="view-distance"
          value={settings.distance}
          onChange={(event) => setSettings({ ...settings, distance: Number(event.target.value) })}
        />
        <span>{settings.distance}</span>
      </label>
      <label className="row">
        <span className="label">Scale</span>
        <select
          data-testid="render-scale"
          value={String(settings.scale)}
          onChange={(event) =>
            setSettings({ ...settings, scale: event.target.value === "auto" ? "auto" : Number(event.target.value) })
          }
        >
          {SCALES.map((scale) => (
            <option key={scale} value={String(scale)}>
              {scale === "auto" ? `auto${world.softwareGl ? " (software GL)" : ""}` : scale}
            </option>
          ))}
        </select>
      </label>
    </details>
  );
}
