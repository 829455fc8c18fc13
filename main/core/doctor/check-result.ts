/** What each of the doctor's checks answers (doctor.ts): ok / warning / problem, or a note, with a sentence on what to do. */

export type CheckStatus = 'ok' | 'warning' | 'problem' | 'note';
export interface CheckResult {
  check: string;
  status: CheckStatus;
  message: string;
}

export const ok = (check: string, message: string): CheckResult => ({ check, status: 'ok', message });
export const warning = (check: string, message: string): CheckResult => ({ check, status: 'warning', message });
export const problem = (check: string, message: string): CheckResult => ({ check, status: 'problem', message });
export const note = (check: string, message: string): CheckResult => ({ check, status: 'note', message });

export function ago(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} days`;
}
