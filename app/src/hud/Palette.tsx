import { useEffect } from "react";
import { PALETTE } from "../edits/blockEditor.ts";
import { type Store, useStore } from "../store.ts";

function hex(color: number): string {
  return `#${color.toString(16).padStart(6, "0")}`;
}

/** The blocks a player can place; keys 1–9 pick them too. */
export function Palette({ selected }: { selected: Store<number> }) {
  const current = useStore(selected);
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.target instanceof HTMLInputElement || event.target instanceof HTMLTextAreaElement) return;
      const block = /^[1-9]$/.test(event.key) ? PALETTE[Number(event.key) - 1] : undefined;
      if (block) selected.set(block.id);
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [selected]);

  return (
    <div className="panel palette" data-testid="palette" role="toolbar" aria-label="Blocks">
      {PALETTE.map((block, i) => (
        <button
          key={block.id}
          type="button"
          className="swatch"
          data-testid={`palette-${block.name}`}
          data-block={block.id}
          aria-pressed={block.id === current}
          title={`${block.name} (${i + 1})`}
          onClick={() => selected.set(block.id)}
        >
          <span className="swatch-colour" style={{ background: hex(block.color) }} />
          <span className="swatch-key">{i + 1}</span>
        </button>
      ))}
    </div>
  );
}
