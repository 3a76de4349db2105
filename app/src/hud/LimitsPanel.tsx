import { useState } from "react";
import { checkLimit, type PlayerLimits } from "../net/limits.ts";
import { type Store, useStore } from "../store.ts";

const FIELDS: { name: keyof PlayerLimits; label: string; unit: string }[] = [
  { name: "uploadKiBs", label: "Upload", unit: "KiB/s (0: none)" },
  { name: "downloadKiBs", label: "Download", unit: "KiB/s (0: none)" },
  { name: "hashMsPerSecond", label: "CPU", unit: "ms/s hashing" },
  { name: "maxWires", label: "Wires", unit: "at once" },
];

/** The data plane's limits; kept across reloads. A value out of range is refused and named. */
export function LimitsPanel({ limits }: { limits: Store<PlayerLimits> }) {
  const current = useStore(limits);
  const [error, setError] = useState<string | undefined>(undefined);
  return (
    <details className="limits" data-testid="limits-panel">
      <summary>Limits</summary>
      {FIELDS.map((field) => (
        <label key={field.name} className="row">
          <span className="label">{field.label}</span>
          <input
            type="number"
            data-testid={`limit-${field.name}`}
            defaultValue={current[field.name]}
            onChange={(event) => {
              const value = checkLimit(field.name, Number(event.target.value));
              if (value === undefined) return setError(`${field.label}: out of range`);
              setError(undefined);
              limits.set({ ...limits.get(), [field.name]: value });
            }}
          />
          <span className="muted">{field.unit}</span>
        </label>
      ))}
      {error && <p className="error">{error}</p>}
    </details>
  );
}
