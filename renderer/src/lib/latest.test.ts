import { describe, expect, it } from 'vitest';
import { latest } from './latest.ts';

describe('latest', () => {
  it('drops an answer older than one already passed on, keeps answers in order otherwise', async () => {
    const resolvers: Array<(v: string) => void> = [];
    const load = latest(() => new Promise<string>((resolve) => resolvers.push(resolve)));
    const first = load();
    const second = load();
    resolvers[1]!('new');
    resolvers[0]!('old');
    expect(await second).toEqual({ value: 'new' });
    expect(await first).toBeUndefined();
    const third = load();
    resolvers[2]!('newer');
    expect(await third).toEqual({ value: 'newer' });
  });
});
