/**
 * A room fits the window (a tester's trial: on a 390×844 phone the message box began at y≈860,
 * under the screen, and the page had to be scrolled before typing): the timeline takes the height
 * left once what stands above it and `foot` under it (the message box, or why nothing can be sent)
 * are laid out, so that the foot ends on screen while the page is at its top; the timeline scrolls
 * within it. A fixed height (the window's less so many rem) could not know the top bar wrapping on
 * a phone, a long room name, a notice above. Measured again whenever the page or the foot changes
 * size (a notice, the box growing, a rotation), a frame later: resizing in the observer's own call
 * would be a loop the browser complains of.
 */

/** What stays free under the foot (px): its bottom is not flush with the window's edge. */
const GAP_PX = 8;

/** The timeline's height that ends `foot` `GAP_PX` above the window's bottom, the page at its top. */
export function fittedHeight(window: { innerHeight: number; scrollY: number }, timeline: { top: number; bottom: number }, footBottom: number): number {
  const top = timeline.top + window.scrollY;
  const below = footBottom - timeline.bottom;
  return Math.floor(window.innerHeight - top - below - GAP_PX);
}

/**
 * Keeps `scroller`'s height fitted (above) until the returned function is called; `resized` after
 * each change (the timeline keeps its newest message in view). The stylesheet's min-height wins
 * over a window too small for it.
 */
export function fitHeight(scroller: HTMLElement, foot: HTMLElement, resized: () => void): () => void {
  let frame = 0;
  const fit = () => {
    frame = 0;
    const box = scroller.getBoundingClientRect();
    const height = fittedHeight(window, box, foot.getBoundingClientRect().bottom);
    if (Math.abs(height - box.height) < 1) return;
    scroller.style.height = `${height}px`;
    resized();
  };
  const later = () => {
    frame ||= requestAnimationFrame(fit);
  };
  const observer = new ResizeObserver(later);
  observer.observe(document.body);
  observer.observe(foot);
  window.addEventListener('resize', later);
  fit();
  return () => {
    cancelAnimationFrame(frame);
    observer.disconnect();
    window.removeEventListener('resize', later);
  };
}
