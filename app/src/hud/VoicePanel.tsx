import { useEffect, useRef, useState } from "react";
import type { Hex } from "viem";
import { useStore } from "../store.ts";
import type { VoiceChat } from "../voice/VoiceChat.ts";
import { displayName } from "./format.ts";

/** A level meter's full width: an RMS this loud or louder (speech near the microphone runs ~0.05–0.3). */
const FULL_LEVEL = 0.3;

/** Voice: on or off, push-to-talk (hold V) or open mic, the camera, and each nearby player's level, mute and block. */
export function VoicePanel({ voice }: { voice: VoiceChat }) {
  const state = useStore(voice.state);
  const nearby = state.peers
    .filter((peer) => peer.call !== "none" || peer.blocked || peer.muted)
    .sort((a, b) => (a.distance ?? Number.POSITIVE_INFINITY) - (b.distance ?? Number.POSITIVE_INFINITY));
  return (
    <details className="limits" data-testid="voice-panel" data-on={state.on} data-talking={state.talking}>
      <summary>Voice{state.on ? (state.talking ? " · talking" : " · on") : ""}</summary>
      <div className="row buttons">
        {/* A click starts audio: browsers let a page play sound only after a gesture. */}
        <button type="button" data-testid="voice-toggle" onClick={() => (state.on ? voice.stop() : void voice.start())}>
          {state.on ? "Leave voice" : "Join voice"}
        </button>
        <button
          type="button"
          data-testid="voice-mode"
          disabled={!state.on}
          onClick={() => voice.setMode(state.mode === "open" ? "push-to-talk" : "open")}
        >
          {state.mode === "open" ? "Open mic" : "Push to talk (V)"}
        </button>
        <button
          type="button"
          data-testid="voice-video"
          disabled={!state.on}
          onClick={() => void voice.setVideo(state.video !== "on")}
        >
          {state.video === "on" ? "Camera off" : "Camera on"}
        </button>
      </div>
      {state.mic === "denied" && <p className="muted">No microphone: you can listen only.</p>}
      {state.video === "denied" && <p className="muted">No camera.</p>}
      <ol>
        {nearby.map((peer) => (
          <li key={peer.id} data-testid="voice-peer" data-name={peer.name} data-call={peer.call} title={peer.wallet}>
            <span className="ellipsis">{displayName(peer.name, peer.wallet)}</span>
            <meter
              className="voice-level"
              data-testid="voice-level"
              min={0}
              max={FULL_LEVEL}
              value={Math.min(peer.level, FULL_LEVEL)}
              style={{ width: 60 }}
            />
            <button type="button" onClick={() => voice.setMuted(peer.id as Hex, !peer.muted)}>
              {peer.muted ? "Unmute" : "Mute"}
            </button>
            <button type="button" onClick={() => voice.setBlocked(peer.id as Hex, !peer.blocked)}>
              {peer.blocked ? "Unblock" : "Block"}
            </button>
            <PeerVideo voice={voice} peerId={peer.id as Hex} />
          </li>
        ))}
      </ol>
    </details>
  );
}

/** A player's camera, when they turned it on: shown small under their name (their voice plays through Web Audio). */
function PeerVideo({ voice, peerId }: { voice: VoiceChat; peerId: Hex }) {
  const video = useRef<HTMLVideoElement>(null);
  const [stream, setStream] = useState<MediaStream | undefined>(undefined);
  useEffect(() => {
    const check = () => setStream(voice.videoOf(peerId));
    check();
    const timer = setInterval(check, 1000);
    return () => clearInterval(timer);
  }, [voice, peerId]);
  useEffect(() => {
    if (video.current && video.current.srcObject !== (stream ?? null)) video.current.srcObject = stream ?? null;
  }, [stream]);
  if (!stream) return null;
  return <video ref={video} className="voice-video" data-testid="voice-video-tile" autoPlay muted playsInline />;
}
