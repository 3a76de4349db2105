import { type ReactNode, useEffect, useState } from "react";

const STORAGE_KEY = "seedcraft:hud-details";

/**
 * The HUD's details (seeding figures, claims, view and limits), shown only when asked: a button, or the
 * H key. What is inside stays mounted while hidden, so its figures keep counting.
 */
export function Details({ children }: { children: ReactNode }) {
  const [open, setOpen] = useState(() => localStorage.getItem(STORAGE_KEY) === "open");
  useEffect(() => {
    localStorage.setItem(STORAGE_KEY, open ? "open" : "closed");
  }, [open]);
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      // Typing an H in the chat box is not a request for details.
      if (event.code !== "KeyH" || event.repeat || (event.target as HTMLElement | null)?.closest("input, textarea"))
        return;
      setOpen((was) => !was);
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);
  return (
    <>
      <button
        type="button"
        className="details-toggle"
        data-testid="hud-details-toggle"
        aria-expanded={open}
        onClick={() => setOpen((was) => !was)}
      >
        {open ? "Hide details" : "Details"} <kbd>H</kbd>
      </button>
      <div className="details" data-testid="hud-details" data-open={open} hidden={!open}>
        {children}
      </div>
    </>
  );
}
