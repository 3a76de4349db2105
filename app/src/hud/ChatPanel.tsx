import { type FormEvent, useEffect, useRef, useState } from "react";
import type { Game } from "../game/Game.ts";
import { useStore } from "../store.ts";

/** Chat with the linked peers; Enter or T focuses the box, Escape leaves it. */
export function ChatPanel({ game }: { game: Game }) {
  const lines = useStore(game.chat);
  const [text, setText] = useState("");
  const input = useRef<HTMLInputElement>(null);
  const list = useRef<HTMLOListElement>(null);

  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (document.activeElement === input.current) {
        if (event.key === "Escape") input.current?.blur();
        return;
      }
      if (event.key === "Enter" || event.key === "t" || event.key === "T") {
        if (document.pointerLockElement) document.exitPointerLock();
        event.preventDefault();
        input.current?.focus();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);
  // Keep the newest line in view as lines come in.
  const newest = lines.at(-1)?.id;
  useEffect(() => {
    if (newest !== undefined) list.current?.scrollTo({ top: list.current.scrollHeight });
  }, [newest]);

  const send = (event: FormEvent) => {
    event.preventDefault();
    game.say(text);
    setText("");
    input.current?.blur();
  };
  return (
    <section className="panel chat" aria-label="Chat">
      <ol ref={list} data-testid="chat-log">
        {lines.slice(-30).map((line) => (
          <li key={line.id} data-testid="chat-line" data-from={line.from} className={line.own ? "own" : undefined}>
            <b>{line.from}</b> {line.text}
          </li>
        ))}
      </ol>
      <form onSubmit={send}>
        <input
          ref={input}
          data-testid="chat-input"
          value={text}
          maxLength={400}
          placeholder="Press Enter to chat"
          onChange={(event) => setText(event.target.value)}
        />
      </form>
    </section>
  );
}
