// pino-roll ships no types: what rotation.ts uses of it (the stream is described there).
declare module 'pino-roll' {
  const pinoRoll: (options: Record<string, unknown>) => Promise<unknown>;
  export default pinoRoll;
}
