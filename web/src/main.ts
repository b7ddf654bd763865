// Composition root: config.json, then the state, the controller, the view.

import "./styles.css";
import { ApiClient } from "./api";
import { realSleep } from "./backoff";
import { parseConfig } from "./config";
import { Controller } from "./controller";
import { fromEntries, fromInput, screen, type EntryLike } from "./files";
import { realTimers } from "./poller";
import { State } from "./state";
import { SessionStore } from "./store";
import { Pacer, abortableSleep, mbitToBytes, pacedTransport } from "./pacer";
import { xhrTransport } from "./transport";
import { View } from "./view";

async function loadConfig(): Promise<unknown> {
  const resp = await fetch("./config.json", { cache: "no-store", credentials: "omit" });
  if (!resp.ok) throw new Error(`config.json answered ${resp.status}`);
  return resp.json();
}

const RATE_KEY = "media-triage.uploadLimitMbit";

/** "Limit upload speed": one pacer for every transfer, its setting kept for the session. */
function uploadLimit(): Pacer {
  const input = document.getElementById("rate-limit") as HTMLInputElement | null;
  const saved = sessionStorage.getItem(RATE_KEY) ?? "";
  const pacer = new Pacer(() => performance.now(), abortableSleep, mbitToBytes(saved));
  if (input) {
    input.value = saved;
    input.addEventListener("change", () => {
      const rate = mbitToBytes(input.value);
      pacer.setRate(rate);
      if (rate === null) sessionStorage.removeItem(RATE_KEY);
      else sessionStorage.setItem(RATE_KEY, input.value.trim());
    });
  }
  return pacer;
}

async function start(): Promise<void> {
  let cfg;
  try {
    cfg = parseConfig(await loadConfig());
  } catch (exc) {
    const view = new View({
      state: new State(),
      controller: () => {
        throw new Error("no controller");
      },
      cfg: parseConfig({}),
      now: () => Date.now(),
      onFiles: () => undefined,
      onEntries: () => undefined,
    });
    view.fatal(`The page could not load its settings (config.json): ${String(exc)}.`);
    return;
  }
  const state = new State();
  const api = new ApiClient(cfg.apiBase, { fetch: (u, i) => fetch(u, i), sleep: realSleep });
  let view: View | null = null;
  const controller = new Controller({
    api,
    transport: pacedTransport(xhrTransport(), uploadLimit()),
    store: new SessionStore(sessionStorage),
    state,
    cfg,
    sleep: realSleep,
    timers: realTimers,
    now: () => Date.now(),
    uuid: () => crypto.randomUUID(),
    changed: () => view?.schedule(),
    say: (text, kind) => view?.message(text, kind),
  });
  const take = (files: File[]): void => {
    const inJob = state.order.length;
    const { accepted, rejected } = screen(files, cfg, inJob);
    view?.rejected(rejected);
    if (!accepted.length) {
      view?.message(files.length ? "None of these files can be sent (see the list below)." : "No files found (hidden files are skipped).", "error");
      return;
    }
    void controller.add(accepted);
  };
  view = new View({
    state,
    controller: () => controller,
    cfg,
    now: () => Date.now(),
    onFiles: (files) => take(fromInput(files)),
    onEntries: (entries, fallback) => {
      if (!entries.length) {
        take(fromInput(fallback));
        return;
      }
      fromEntries(entries as unknown as EntryLike[]).then(take, () => take(fromInput(fallback)));
    },
  });
  view.mount();
  state.dispatch({ type: "screen", screen: "start" });
  await controller.resume();
  view.schedule();
}

void start();
