// Injected by devtools/bench_web.py (Playwright add_init_script) into every document before its
// own scripts; the page's CSP does not apply to it. Collects paint/element/long-task entries and,
// once told how many rows to expect, when the last row left the upload phases, when every row
// reached a final phase and when the verdicts appeared (also as bench:* marks for a trace).
(() => {
  const b = (window.__bench = {
    element: null, longtasks: [], drop: null, uploaded: null, processed: null,
    complete: null, expected: 0,
  });
  const observe = (type, fn) => {
    try {
      new PerformanceObserver((l) => l.getEntries().forEach(fn)).observe({ type, buffered: true });
    } catch (e) {
      // entry type not supported
    }
  };
  observe("element", (e) => {
    if (e.identifier === "dropzone" && b.element === null) b.element = e.renderTime || e.loadTime;
  });
  observe("longtask", (e) => b.longtasks.push([e.startTime, e.duration]));
  const UPLOADING = new Set(["queued", "uploading", "needs_file"]);
  const FINAL = new Set(["valid", "invalid", "duplicate", "upload_failed"]);
  const check = () => {
    if (!b.expected || b.drop === null) return;
    const now = performance.now();
    const rows = document.querySelectorAll("[data-testid=file-row]");
    if (rows.length >= b.expected) {
      let uploading = 0, final = 0;
      for (const r of rows) {
        const p = r.dataset.phase;
        if (UPLOADING.has(p)) uploading++;
        if (FINAL.has(p)) final++;
      }
      if (uploading === 0 && b.uploaded === null) b.uploaded = mark("uploaded", now);
      if (final === rows.length && b.processed === null) b.processed = mark("processed", now);
    }
    const st = document.querySelector("[data-testid=job-status]");
    const verdicts = document.querySelector("[data-testid=verdicts]");
    const shown = st && st.dataset.status === "complete" && verdicts && !verdicts.hidden;
    if (shown && b.complete === null) b.complete = mark("complete", now);
  };
  // marks also land in a Chromium trace (blink.user_timing), to split it by phase
  const mark = (name, t) => { performance.mark("bench:" + name, { startTime: t }); return t; };
  document.addEventListener("change", (e) => {
    if (e.target && e.target.id === "file-input" && b.drop === null) {
      b.drop = mark("drop", performance.now());
    }
  }, true);
  const start = () => new MutationObserver(check).observe(document.body, {
    subtree: true,
    childList: true,
    attributes: true,
    attributeFilter: ["data-phase", "data-status", "hidden"],
  });
  if (document.body) start(); else document.addEventListener("DOMContentLoaded", start);
})();
